// Number formatting that reproduces Envoy's output byte for byte:
//  - formatG(x, p): C printf "%.{p}g" (Envoy's fmt "{:g}" and "{:.32g}");
//  - formatShortest(x): fmt "{}" for a double (shortest round-trip digits, exponent
//    form when the decimal exponent is < -4 or >= 16);
//  - NaN prints as "nan", infinities as "inf"/"-inf" (fmt and printf both do).

function nonFinite(x: number): string | undefined {
  if (x !== x) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  return undefined;
}

function stripFraction(s: string): string {
  if (s.indexOf('.') < 0) return s;
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 48 /* 0 */) end--;
  if (end > 0 && s.charCodeAt(end - 1) === 46 /* . */) end--;
  return s.slice(0, end);
}

function expSuffix(e: number): string {
  const a = Math.abs(e);
  return (e < 0 ? 'e-' : 'e+') + (a < 10 ? '0' + a : String(a));
}

/** C printf("%.{precision}g", x). */
export function formatG(x: number, precision = 6): string {
  const nf = nonFinite(x);
  if (nf !== undefined) return nf;
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const p = precision <= 0 ? 1 : Math.min(precision, 100);
  const sci = x.toExponential(p - 1); // correctly rounded, e.g. "1.80000e+6"
  const ePos = sci.indexOf('e');
  const exp = Number(sci.slice(ePos + 1));
  if (exp < -4 || exp >= p) return stripFraction(sci.slice(0, ePos)) + expSuffix(exp);
  const digits = p - 1 - exp;
  if (Math.abs(x) >= 1e21) {
    // toFixed switches to exponent form here; the value is an integer, print it exactly.
    return BigInt(x).toString();
  }
  return stripFraction(x.toFixed(Math.min(digits, 100)));
}

/** fmt::format("{}", double): shortest representation that round-trips. */
export function formatShortest(x: number): string {
  const nf = nonFinite(x);
  if (nf !== undefined) return nf;
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const sci = x.toExponential(); // shortest digits, "d.ddde+X"
  const ePos = sci.indexOf('e');
  const exp = Number(sci.slice(ePos + 1));
  let mant = sci.slice(0, ePos);
  const neg = mant.charCodeAt(0) === 45;
  if (neg) mant = mant.slice(1);
  if (exp < -4 || exp >= 16) return (neg ? '-' : '') + mant + expSuffix(exp);
  const digits = mant.replace('.', '');
  let out: string;
  if (exp < 0) out = '0.' + '0'.repeat(-exp - 1) + digits;
  else if (digits.length <= exp + 1) out = digits + '0'.repeat(exp + 1 - digits.length);
  else out = digits.slice(0, exp + 1) + '.' + digits.slice(exp + 1);
  return (neg ? '-' : '') + out;
}

/** A counter/gauge value the way Envoy prints uint64/int64 values (integers as integers). */
export function formatInteger(x: number): string {
  if (Number.isInteger(x)) return Math.abs(x) <= Number.MAX_SAFE_INTEGER ? String(x) : BigInt(x).toString();
  return formatShortest(x);
}

// RE2-semantics regular expressions for the route table (re2js: linear time, no
// backtracking, no lookaround). Envoy's `safe_regex` matchers are full matches
// (RE2::FullMatch); `regex_rewrite` substitutions follow RE2::GlobalReplace with
// `\0`..`\9` group references.
import { RE2JS } from 're2js';
import { ConfigError, joinPath } from '../config/errors';
import type { Plain } from '../config/plain';

export class CompiledRegex {
  readonly groupCount: number;
  constructor(readonly pattern: string, readonly re: RE2JS) {
    this.groupCount = re.groupCount();
  }

  /** True when the whole input matches (Envoy's RegexMatcher semantics). */
  fullMatch(input: string): boolean {
    return this.re.testExact(input);
  }

  /** True when some substring matches. */
  search(input: string): boolean {
    return this.re.test(input);
  }

  /**
   * Replace every non-overlapping match, as RE2::GlobalReplace does: an empty match
   * right after the previous match is skipped (so `a*` on "baaac" with "-" gives "-b-c-").
   */
  replaceAll(input: string, subst: Substitution): string {
    const m = this.re.matcher(input);
    const len = input.length;
    let out = '';
    let p = 0;
    let lastEnd = -1;
    let count = 0;
    // Bounded: every iteration advances p by at least one code unit or stops.
    while (p <= len) {
      if (!m.find(p)) break;
      const s = m.start();
      const e = m.end();
      if (p < s) out += input.slice(p, s);
      if (s === lastEnd && s === e) {
        // Disallow an empty match at the end of the previous match: copy one character and move on.
        if (p < len) {
          const c = input.charCodeAt(p);
          const n = c >= 0xd800 && c <= 0xdbff && p + 1 < len ? 2 : 1;
          out += input.slice(p, p + n);
          p += n;
        } else {
          p++;
        }
        continue;
      }
      const parts = subst.parts;
      for (let i = 0; i < parts.length; i++) {
        const part = parts[i];
        if (typeof part === 'string') out += part;
        else {
          const g = part === 0 ? input.slice(s, e) : m.group(part);
          if (g !== null) out += g;
        }
      }
      p = e;
      lastEnd = e;
      count++;
    }
    if (count === 0) return input;
    if (p < len) out += input.slice(p);
    return out;
  }
}

/** A parsed RE2 rewrite string: literal pieces and group numbers. */
export class Substitution {
  constructor(readonly source: string, readonly parts: ReadonlyArray<string | number>, readonly maxGroup: number) {}
}

/**
 * Parse an RE2 rewrite string: `\N` (N = 0..9) inserts group N, `\\` a backslash;
 * any other backslash sequence is invalid (RE2 rejects it too).
 */
export function parseSubstitution(s: string, path: string): Substitution {
  const parts: Array<string | number> = [];
  let lit = '';
  let maxGroup = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c !== '\\') { lit += c; continue; }
    const n = s[i + 1];
    if (n === undefined) throw new ConfigError(path, `invalid rewrite pattern "${s}": trailing backslash`);
    if (n === '\\') { lit += '\\'; i++; continue; }
    if (n >= '0' && n <= '9') {
      if (lit) { parts.push(lit); lit = ''; }
      const g = n.charCodeAt(0) - 48;
      parts.push(g);
      if (g > maxGroup) maxGroup = g;
      i++;
      continue;
    }
    throw new ConfigError(path, `invalid rewrite pattern "${s}": invalid escape "\\${n}"`);
  }
  if (lit) parts.push(lit);
  return new Substitution(s, parts, maxGroup);
}

/** Compile a pattern string with RE2 syntax; errors name `path`. */
export function compileRegexString(pattern: string, path: string): CompiledRegex {
  if (typeof pattern !== 'string' || pattern.length === 0) {
    throw new ConfigError(path, 'regex must not be empty');
  }
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (e) {
    throw new ConfigError(path, `invalid regex "${pattern}": ${(e as Error).message}`);
  }
  return new CompiledRegex(pattern, re);
}

/** Compile an envoy.type.matcher.v3.RegexMatcher (plain). `path` names the RegexMatcher itself. */
export function compileRegexMatcher(m: Plain, path: string): CompiledRegex {
  if (!m || typeof m !== 'object') throw new ConfigError(path, 'regex matcher is required');
  return compileRegexString(m.regex, joinPath(path, 'regex'));
}

export interface CompiledRegexRewrite {
  regex: CompiledRegex;
  substitution: Substitution;
}

/** Compile an envoy.type.matcher.v3.RegexMatchAndSubstitute (plain). */
export function compileRegexRewrite(m: Plain, path: string): CompiledRegexRewrite {
  if (!m || typeof m !== 'object') throw new ConfigError(path, 'regex rewrite is required');
  const regex = compileRegexMatcher(m.pattern, joinPath(path, 'pattern'));
  const substitution = parseSubstitution(m.substitution ?? '', joinPath(path, 'substitution'));
  if (substitution.maxGroup > regex.groupCount) {
    throw new ConfigError(joinPath(path, 'substitution'),
      `invalid rewrite pattern "${substitution.source}": requested group ${substitution.maxGroup} but the regex has ${regex.groupCount} capturing group(s)`);
  }
  return { regex, substitution };
}

/** Apply a compiled regex rewrite to the whole input. */
export function applyRegexRewrite(rw: CompiledRegexRewrite, input: string): string {
  return rw.regex.replaceAll(input, rw.substitution);
}

/**
 * The literal text every full match of `pattern` must start with, or '' when unknown.
 * Conservative: stops at the first meta character, drops a literal followed by a
 * quantifier, and gives up on any alternation or inline flag. Used to index regex routes.
 */
export function regexLiteralPrefix(pattern: string): string {
  if (pattern.includes('|')) return '';
  let i = 0;
  if (pattern[0] === '^') i = 1;
  let out = '';
  for (; i < pattern.length; i++) {
    const c = pattern[i];
    if ('\\.[]()*+?{}|^$'.includes(c)) {
      if ((c === '*' || c === '?' || c === '{') && out.length > 0) out = out.slice(0, -1);
      break;
    }
    const code = c.charCodeAt(0);
    if (code >= 0xd800 && code <= 0xdfff) break; // keep to whole code points of the BMP
    out += c;
  }
  // A trailing '+' quantifier keeps its literal (one or more), so nothing to drop for '+'.
  return out;
}

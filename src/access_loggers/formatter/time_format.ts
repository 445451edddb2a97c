// %START_TIME(...)% and friends: strftime-style formatting compiled once.
//
// Envoy's DateFormatter splits a format into pieces that change at most once per
// second (cached, rendered only when the second changes) and sub-second pieces
// (%f, %[1-9*]f, %E[1-9*]S, %E[1-9*]f) plus %s rendered per call. We do the same.
// Everything else follows absl::FormatTime / strftime; unknown conversions are
// copied through unchanged.
//
// remora's StreamInfo.startTime has millisecond resolution, so digits past the
// third sub-second digit are always '0'.

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const DAYS_LONG = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTHS_LONG = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September',
  'October', 'November', 'December'];

/** Envoy's default START_TIME format (UTC) and START_TIME_LOCAL format. */
export const DEFAULT_UTC_FORMAT = '%Y-%m-%dT%H:%M:%E3SZ';
export const DEFAULT_LOCAL_FORMAT = '%Y-%m-%dT%H:%M:%E3S%z';

// Piece kinds.
const P_LIT = 0;      // literal text
const P_FIELD = 1;    // a per-second strftime field (char code in `code`)
const P_EPOCH_S = 2;  // %s
const P_SUB_F = 3;    // %f / %Nf / %*f / %ENf / %E*f: digits only, at least one
const P_SUB_S = 4;    // %ENS / %E*S: '.' + digits (seconds themselves are a P_FIELD 'S' before it)

interface Piece { kind: number; text: string; code: number; width: number }

/** A chunk is either a run of per-second pieces (cached) or one per-call piece. */
interface Chunk { perSecond: boolean; pieces: Piece[] }

function pad2(n: number): string { return n < 10 ? '0' + n : '' + n; }
function pad3(n: number): string { return n < 10 ? '00' + n : n < 100 ? '0' + n : '' + n; }

export class TimeFormatter {
  private readonly chunks: Chunk[];
  private readonly local: boolean;
  private readonly hasSubSecond: boolean;
  // Cache: the second the per-second chunks were last rendered for, and their text.
  private cachedSec = Number.NaN;
  private readonly cached: string[];
  // Whole-string cache keyed by the millisecond (hot when many requests share a ms).
  private cachedMs = Number.NaN;
  private cachedStr = '';

  constructor(readonly format: string, local: boolean) {
    this.local = local;
    const fmt = format === '' ? (local ? DEFAULT_LOCAL_FORMAT : DEFAULT_UTC_FORMAT) : format;
    this.chunks = compile(fmt);
    this.cached = new Array(this.chunks.length).fill('');
    this.hasSubSecond = this.chunks.some((c) => !c.perSecond);
  }

  /** Render a time given in ms since the epoch. */
  render(ms: number): string {
    if (ms === this.cachedMs) return this.cachedStr;
    const sec = Math.floor(ms / 1000);
    if (sec !== this.cachedSec) this.renderSeconds(sec);
    let out: string;
    if (!this.hasSubSecond) {
      out = this.cached[0] ?? '';
    } else {
      out = '';
      const chunks = this.chunks;
      for (let i = 0; i < chunks.length; i++) {
        const c = chunks[i];
        out += c.perSecond ? this.cached[i] : renderSubSecond(c.pieces[0], ms, sec);
      }
    }
    this.cachedMs = ms;
    this.cachedStr = out;
    return out;
  }

  private renderSeconds(sec: number): void {
    const d = new Date(sec * 1000);
    const chunks = this.chunks;
    for (let i = 0; i < chunks.length; i++) {
      const c = chunks[i];
      if (!c.perSecond) continue;
      let s = '';
      for (const p of c.pieces) s += p.kind === P_LIT ? p.text : renderField(p.code, d, this.local);
      this.cached[i] = s;
    }
    this.cachedSec = sec;
  }
}

function renderSubSecond(p: Piece, ms: number, sec: number): string {
  if (p.kind === P_EPOCH_S) return '' + sec;
  const frac = ms - sec * 1000; // 0..999
  if (p.width === 3) return p.kind === P_SUB_S ? '.' + pad3(frac) : pad3(frac);
  let digits = pad3(frac) + '000000'; // 9 digits, ns resolution
  let width = p.width;
  if (width === 0) {
    // dynamic width: strip trailing zeros
    let end = 9;
    while (end > 0 && digits.charCodeAt(end - 1) === 48) end--;
    width = end;
  }
  if (p.kind === P_SUB_S) return width === 0 ? '' : '.' + digits.slice(0, width);
  digits = digits.slice(0, width < 1 ? 1 : width);
  return digits;
}

function tzOffset(d: Date, local: boolean, colon: boolean): string {
  if (!local) return colon ? '+00:00' : '+0000';
  const off = -d.getTimezoneOffset();
  const sign = off < 0 ? '-' : '+';
  const a = Math.abs(off);
  return sign + pad2(Math.floor(a / 60)) + (colon ? ':' : '') + pad2(a % 60);
}

function tzName(d: Date, local: boolean): string {
  if (!local) return 'UTC';
  const parts = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d);
  for (const p of parts) if (p.type === 'timeZoneName') return p.value;
  return tzOffset(d, true, false);
}

function dayOfYear(y: number, m: number, day: number): number {
  return Math.round((Date.UTC(y, m, day) - Date.UTC(y, 0, 1)) / 86400000) + 1;
}

function renderField(code: number, d: Date, local: boolean): string {
  const Y = local ? d.getFullYear() : d.getUTCFullYear();
  const mo = local ? d.getMonth() : d.getUTCMonth();
  const day = local ? d.getDate() : d.getUTCDate();
  const H = local ? d.getHours() : d.getUTCHours();
  const M = local ? d.getMinutes() : d.getUTCMinutes();
  const S = local ? d.getSeconds() : d.getUTCSeconds();
  const wd = local ? d.getDay() : d.getUTCDay();
  switch (String.fromCharCode(code)) {
    case 'Y': return '' + Y;
    case 'C': return pad2(Math.floor(Y / 100));
    case 'y': return pad2(Y % 100);
    case 'm': return pad2(mo + 1);
    case 'd': return pad2(day);
    case 'e': return day < 10 ? ' ' + day : '' + day;
    case 'j': return pad3(dayOfYear(Y, mo, day));
    case 'H': return pad2(H);
    case 'k': return H < 10 ? ' ' + H : '' + H;
    case 'I': return pad2(H % 12 === 0 ? 12 : H % 12);
    case 'l': { const h = H % 12 === 0 ? 12 : H % 12; return h < 10 ? ' ' + h : '' + h; }
    case 'M': return pad2(M);
    case 'S': return pad2(S);
    case 'p': return H < 12 ? 'AM' : 'PM';
    case 'a': return DAYS[wd];
    case 'A': return DAYS_LONG[wd];
    case 'b': case 'h': return MONTHS[mo];
    case 'B': return MONTHS_LONG[mo];
    case 'u': return '' + (wd === 0 ? 7 : wd);
    case 'w': return '' + wd;
    case 'D': return pad2(mo + 1) + '/' + pad2(day) + '/' + pad2(Y % 100);
    case 'F': return Y + '-' + pad2(mo + 1) + '-' + pad2(day);
    case 'T': return pad2(H) + ':' + pad2(M) + ':' + pad2(S);
    case 'R': return pad2(H) + ':' + pad2(M);
    case 'r': return pad2(H % 12 === 0 ? 12 : H % 12) + ':' + pad2(M) + ':' + pad2(S) + ' ' + (H < 12 ? 'AM' : 'PM');
    case 'c': return DAYS[wd] + ' ' + MONTHS[mo] + ' ' + (day < 10 ? ' ' + day : '' + day) + ' '
      + pad2(H) + ':' + pad2(M) + ':' + pad2(S) + ' ' + Y;
    case 'z': return tzOffset(d, local, false);
    case 'Z': return tzName(d, local);
    case ':': return tzOffset(d, local, true); // %Ez
    case 'n': return '\n';
    case 't': return '\t';
    case '%': return '%';
    default: return '%' + String.fromCharCode(code);
  }
}

const FIELD_CODES = new Set('YCymdejHkIlMSpaAbhBuwDFTRrczZnt%'.split(''));

function compile(fmt: string): Chunk[] {
  const chunks: Chunk[] = [];
  let run: Piece[] = [];
  let lit = '';
  const flushLit = () => { if (lit) { run.push({ kind: P_LIT, text: lit, code: 0, width: 0 }); lit = ''; } };
  const flushRun = () => { flushLit(); if (run.length) { chunks.push({ perSecond: true, pieces: run }); run = []; } };
  const perCall = (p: Piece) => { flushRun(); chunks.push({ perSecond: false, pieces: [p] }); };
  const field = (c: string) => { flushLit(); run.push({ kind: P_FIELD, text: '', code: c.charCodeAt(0), width: 0 }); };

  for (let i = 0; i < fmt.length; i++) {
    const ch = fmt[i];
    if (ch !== '%' || i + 1 >= fmt.length) { lit += ch; continue; }
    const n = fmt[i + 1];
    if (n === '%') { lit += '%'; i++; continue; }
    if (n === 's') { perCall({ kind: P_EPOCH_S, text: '', code: 0, width: 0 }); i++; continue; }
    if (n === 'f') { perCall({ kind: P_SUB_F, text: '', code: 0, width: 9 }); i++; continue; }
    if ((n >= '1' && n <= '9') || n === '*') {
      if (fmt[i + 2] === 'f') {
        perCall({ kind: P_SUB_F, text: '', code: 0, width: n === '*' ? 0 : n.charCodeAt(0) - 48 });
        i += 2; continue;
      }
    }
    if (n === 'E') {
      const w = fmt[i + 2];
      const t = fmt[i + 3];
      if (w !== undefined && ((w >= '1' && w <= '9') || w === '*') && (t === 'S' || t === 'f')) {
        const width = w === '*' ? 0 : w.charCodeAt(0) - 48;
        if (t === 'S') {
          field('S');
          perCall({ kind: P_SUB_S, text: '', code: 0, width });
        } else {
          perCall({ kind: P_SUB_F, text: '', code: 0, width });
        }
        i += 3; continue;
      }
      if (w === 'z') { field(':'); i += 2; continue; }
      if (w === '4' && t === 'Y') { field('Y'); i += 3; continue; }
    }
    if (FIELD_CODES.has(n)) { field(n); i++; continue; }
    lit += '%' + n; i++;
  }
  flushRun();
  return chunks;
}

/** True when the strftime format would put a newline in the output (Envoy rejects these). */
export function timeFormatHasNewline(fmt: string): boolean {
  return /%[-_0^#]*[1-9]*(E|O)?n/.test(fmt);
}

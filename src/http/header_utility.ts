// Request header helpers shared by the HCM and HTTP filters: Envoy's PathUtil
// (path normalization), HeaderUtility (host ports, upgrades) and the X-Forwarded-For
// utilities of Http::Utility.
import { parseIp, type IpAddress } from '../common/cidr';
import { getHeader, getJoined, type Headers } from './headers';

// ---------------------------------------------------------------------------------------------
// Paths

const HEX = '0123456789ABCDEF';

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** RFC 3986 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~". */
function isUnreserved(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 46 || c === 95 || c === 126;
}

/** Path characters the URL canonicalizer percent-escapes (controls, space, '"', '<', '>', '`', '{', '}', DEL). */
function mustEscape(c: number): boolean {
  return c <= 0x20 || c === 0x22 || c === 0x3c || c === 0x3e || c === 0x60 || c === 0x7b || c === 0x7d || c === 0x7f;
}

/** Index of the end of the path part ('?' or the end). */
export function pathEnd(path: string): number {
  const q = path.indexOf('?');
  return q < 0 ? path.length : q;
}

function needsCanonicalization(path: string, end: number): boolean {
  let prevSlash = false;
  for (let i = 0; i < end; i++) {
    const c = path.charCodeAt(i);
    if (c === 0x25 /* % */ || c === 0x5c /* \ */ || c > 0x7e || mustEscape(c)) return true;
    if (c === 0x2e /* . */ && prevSlash) return true;
    prevSlash = c === 0x2f;
  }
  return false;
}

/**
 * Envoy's PathUtil::canonicalPath (RFC 3986 normalization as Chromium's URL canonicalizer does it)
 * applied to the path part of `path` (the query is kept as is):
 *  - '\' becomes '/';
 *  - %XX of an unreserved character is decoded ("%41" -> "A", "%2e" -> "."); other escapes get
 *    uppercase hex; '%' not followed by two hex digits is kept;
 *  - controls, space, '"', '<', '>', '`', '{', '}', DEL and non-ASCII are percent-encoded (UTF-8);
 *  - "." and ".." segments are removed (RFC 3986 §5.2.4); ".." never climbs above the root.
 * Returns the canonical :path, or null when the path does not start with '/'.
 */
export function canonicalizePath(path: string): string | null {
  const end = pathEnd(path);
  if (end === 0 || path.charCodeAt(0) !== 0x2f && path.charCodeAt(0) !== 0x5c) return null;
  if (!needsCanonicalization(path, end)) return path;
  // Pass 1: characters (escapes, backslashes).
  let s = '';
  for (let i = 0; i < end; i++) {
    const c = path.charCodeAt(i);
    if (c === 0x5c) { s += '/'; continue; }
    if (c === 0x25) {
      const h = i + 2 < end ? hexVal(path.charCodeAt(i + 1)) : -1;
      const l = h >= 0 ? hexVal(path.charCodeAt(i + 2)) : -1;
      if (h < 0 || l < 0) { s += '%'; continue; }
      const v = (h << 4) | l;
      if (isUnreserved(v)) s += String.fromCharCode(v);
      else s += '%' + HEX[h] + HEX[l];
      i += 2;
      continue;
    }
    if (c > 0x7e) {
      // Non-ASCII: percent-encode the UTF-8 bytes of this code point.
      let cp = c;
      let len = 1;
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < end) {
        const d = path.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) { cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00); len = 2; }
      }
      const bytes = Buffer.from(String.fromCodePoint(cp), 'utf8');
      for (let j = 0; j < bytes.length; j++) s += '%' + HEX[bytes[j] >> 4] + HEX[bytes[j] & 15];
      i += len - 1;
      continue;
    }
    if (mustEscape(c)) { s += '%' + HEX[c >> 4] + HEX[c & 15]; continue; }
    s += path[i];
  }
  // Pass 2: dot segments.
  const segs = s.split('/');
  const out: string[] = [];
  // segs[0] is '' (the path starts with '/').
  for (let i = 1; i < segs.length; i++) {
    const seg = segs[i];
    const last = i === segs.length - 1;
    if (seg === '.') { if (last) out.push(''); continue; }
    if (seg === '..') { if (out.length > 0) out.pop(); if (last) out.push(''); continue; }
    out.push(seg);
  }
  return '/' + out.join('/') + path.slice(end);
}

/** Envoy's PathUtil::mergeSlashes: collapse runs of '/' in the path part (the query is untouched). */
export function mergeSlashes(path: string): string {
  const end = pathEnd(path);
  if (path.indexOf('//') < 0 || path.indexOf('//') >= end) return path;
  let out = '';
  let prevSlash = false;
  for (let i = 0; i < end; i++) {
    const c = path.charCodeAt(i);
    if (c === 0x2f) { if (prevSlash) continue; prevSlash = true; } else prevSlash = false;
    out += path[i];
  }
  return out + path.slice(end);
}

/**
 * Envoy's PathUtil::unescapeSlashes: decode %2F/%2f to '/' and %5C/%5c to '\' in the path part.
 * Returns the new path, or null when there was nothing to unescape.
 */
export function unescapeSlashes(path: string): string | null {
  const end = pathEnd(path);
  let found = false;
  let out = '';
  for (let i = 0; i < end; i++) {
    const c = path.charCodeAt(i);
    if (c === 0x25 && i + 2 < end) {
      const a = path.charCodeAt(i + 1);
      const b = path.charCodeAt(i + 2) | 0x20;
      if (a === 0x32 && b === 0x66) { out += '/'; i += 2; found = true; continue; }
      if (a === 0x35 && b === 0x63) { out += '\\'; i += 2; found = true; continue; }
    }
    out += path[i];
  }
  return found ? out + path.slice(end) : null;
}

// ---------------------------------------------------------------------------------------------
// Host / authority

/** Index of the ':' that starts the port of a host, or -1 (IPv6 literals need brackets). */
export function hostPortStart(host: string): number {
  const colon = host.lastIndexOf(':');
  if (colon < 0) return -1;
  const bracket = host.lastIndexOf(']');
  if (bracket > colon) return -1;
  if (bracket < 0 && host.indexOf(':') !== colon) return -1; // bare IPv6 literal
  return colon;
}

/**
 * HeaderUtility::stripPortFromHost: the host without its port when the port is numeric and
 * (when `onlyPort` >= 0) equals it; otherwise null (unchanged).
 */
export function stripHostPort(host: string, onlyPort: number): string | null {
  const p = hostPortStart(host);
  if (p < 0) return null;
  const portStr = host.slice(p + 1);
  if (portStr.length === 0 || portStr.length > 5) return null;
  let port = 0;
  for (let i = 0; i < portStr.length; i++) {
    const d = portStr.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return null;
    port = port * 10 + d;
  }
  if (onlyPort >= 0 && port !== onlyPort) return null;
  return host.slice(0, p);
}

// ---------------------------------------------------------------------------------------------
// Connection / upgrade headers

function hasToken(list: string, lowerToken: string): boolean {
  let start = 0;
  const n = list.length;
  while (start <= n) {
    let comma = list.indexOf(',', start);
    if (comma < 0) comma = n;
    let a = start;
    let b = comma;
    while (a < b && (list.charCodeAt(a) === 32 || list.charCodeAt(a) === 9)) a++;
    while (b > a && (list.charCodeAt(b - 1) === 32 || list.charCodeAt(b - 1) === 9)) b--;
    if (b - a === lowerToken.length) {
      let eq = true;
      for (let i = 0; i < lowerToken.length; i++) {
        let c = list.charCodeAt(a + i);
        if (c >= 65 && c <= 90) c += 32;
        if (c !== lowerToken.charCodeAt(i)) { eq = false; break; }
      }
      if (eq) return true;
    }
    start = comma + 1;
  }
  return false;
}

/** True when the comma-separated header value list contains `lowerToken` (case-insensitive). */
export function headerHasToken(h: Headers, name: string, lowerToken: string): boolean {
  const v = getJoined(h, name);
  return v !== undefined && hasToken(v, lowerToken);
}

/** Http::Utility::isUpgrade: 'connection' contains "upgrade" and an 'upgrade' header is present. */
export function isUpgradeRequest(h: Headers): boolean {
  return h['upgrade'] !== undefined && headerHasToken(h, 'connection', 'upgrade');
}

/** Http::Utility::isH2UpgradeRequest: an HTTP/1.1 `Upgrade: h2c` request (never honoured; stripped). */
export function isH2cUpgrade(h: Headers): boolean {
  const u = getHeader(h, 'upgrade');
  return u !== undefined && u.toLowerCase() === 'h2c';
}

/**
 * Envoy's TE sanitization for proxied requests: keep only the "trailers" token of 'te'
 * (the only TE value HTTP/2 allows), drop the header otherwise.
 */
export function sanitizeTe(h: Headers): void {
  const te = getJoined(h, 'te');
  if (te === undefined) return;
  if (hasToken(te, 'trailers')) h['te'] = 'trailers';
  else delete h['te'];
}

// ---------------------------------------------------------------------------------------------
// X-Forwarded-For

/** Result of getLastAddressFromXFF. */
export interface XffAddress {
  /** The address text (trimmed), or '' when none could be parsed. */
  address: string;
  ip: IpAddress | null;
  /** True when XFF held exactly one address and none was skipped. */
  single: boolean;
}

/** Http::Utility::getLastAddressFromXFF: skip `numToSkip` addresses from the right, parse the next. */
export function lastAddressFromXff(h: Headers, numToSkip: number): XffAddress {
  const xff = getJoined(h, 'x-forwarded-for');
  if (xff === undefined) return { address: '', ip: null, single: false };
  let s = xff;
  for (let i = 0; i < numToSkip; i++) {
    const c = s.lastIndexOf(',');
    if (c < 0) return { address: '', ip: null, single: false };
    s = s.slice(0, c);
  }
  const last = s.lastIndexOf(',');
  if (last >= 0 && last + 1 < s.length) s = s.slice(last + 1);
  s = s.trim();
  const ip = parseIp(s);
  if (ip === null) return { address: '', ip: null, single: false };
  return { address: s, ip, single: last < 0 && numToSkip === 0 };
}

/** Http::Utility::appendXff. */
export function appendXff(h: Headers, address: string): void {
  const cur = getJoined(h, 'x-forwarded-for');
  h['x-forwarded-for'] = cur === undefined || cur === '' ? address : cur + ',' + address;
}

/**
 * Network::Utility::isInternalAddress (Envoy's default internal_address_config):
 * RFC 1918 ranges, 127.0.0.1, IPv6 fd00::/8 and ::1.
 */
export function isDefaultInternalAddress(ip: IpAddress): boolean {
  const b = ip.bytes;
  if (ip.family === 4) {
    return b[0] === 10 || (b[0] === 192 && b[1] === 168) || (b[0] === 172 && b[1] >= 16 && b[1] <= 31)
      || (b[0] === 127 && b[1] === 0 && b[2] === 0 && b[3] === 1);
  }
  if (b[0] === 0xfd) return true;
  for (let i = 0; i < 15; i++) if (b[i] !== 0) return false;
  return b[15] === 1;
}

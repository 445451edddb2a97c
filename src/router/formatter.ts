// Header value templates: Envoy's substitution format syntax (the access-log one,
// which header mutations use since Envoy 1.24): literal text, `%%` for '%', and
// commands `%NAME%`, `%NAME(arg)%`, `%NAME(arg):N%` (truncate to N characters).
// Parsed once at config time; evaluated against a small context the HCM supplies.
// Unknown commands are config errors, as in Envoy. Values that are unavailable
// format as '' (header formatters omit empty values).
import * as os from 'node:os';
import { ConfigError } from '../config/errors';
import type { Headers } from '../http/headers';
import { responseFlagsToString } from '../common/response_flags';

/**
 * The stream facts formatters read. src/common/stream_info.ts `StreamInfo` satisfies it;
 * every field is optional so callers and tests may pass partial objects.
 */
export interface StreamInfoLike {
  startTime?: number;
  connection?: {
    id?: number;
    remoteAddress?: string; remotePort?: number;
    directRemoteAddress?: string; directRemotePort?: number;
    localAddress?: string; localPort?: number;
    sni?: string;
    peerUriSans?: string[];
  };
  upstreamHost?: { address: string; hostname?: string; metadata?: unknown } | undefined;
  upstreamCluster?: string;
  upstreamLocalAddress?: string;
  upstreamTransportFailureReason?: string;
  protocol?: string;
  responseCode?: number;
  responseFlags?: number;
  routeName?: string;
  virtualClusterName?: string;
  requestId?: string;
  filterState?: Map<string, unknown> | undefined;
  dynamicMetadata?: Record<string, Record<string, unknown>> | undefined;
}

/** What header formatters evaluate against. */
export interface FormatterContext {
  /** Request headers: %REQ(...)% reads these. For request-side mutations pass the headers being mutated. */
  requestHeaders?: Headers;
  /** Response headers: %RESP(...)% reads these. */
  responseHeaders?: Headers;
  streamInfo?: StreamInfoLike;
}

const enum C {
  REQ, RESP, START_TIME, HOSTNAME, PROTOCOL, RESPONSE_CODE, RESPONSE_FLAGS, ROUTE_NAME,
  UPSTREAM_HOST, UPSTREAM_REMOTE_ADDRESS, UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT, UPSTREAM_REMOTE_PORT,
  UPSTREAM_LOCAL_ADDRESS, UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT, UPSTREAM_LOCAL_PORT,
  UPSTREAM_CLUSTER, UPSTREAM_TRANSPORT_FAILURE_REASON,
  DOWNSTREAM_REMOTE_ADDRESS, DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT, DOWNSTREAM_REMOTE_PORT,
  DOWNSTREAM_DIRECT_REMOTE_ADDRESS, DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT, DOWNSTREAM_DIRECT_REMOTE_PORT,
  DOWNSTREAM_LOCAL_ADDRESS, DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT, DOWNSTREAM_LOCAL_PORT,
  REQUESTED_SERVER_NAME, DOWNSTREAM_PEER_URI_SAN, CONNECTION_ID, STREAM_ID, VIRTUAL_CLUSTER_NAME,
  DYNAMIC_METADATA, UPSTREAM_METADATA, FILTER_STATE, ENVIRONMENT, LITERAL_CONST,
}

const COMMANDS: Record<string, C> = {
  REQ: C.REQ, RESP: C.RESP, START_TIME: C.START_TIME, HOSTNAME: C.HOSTNAME, PROTOCOL: C.PROTOCOL,
  RESPONSE_CODE: C.RESPONSE_CODE, RESPONSE_FLAGS: C.RESPONSE_FLAGS, ROUTE_NAME: C.ROUTE_NAME,
  UPSTREAM_HOST: C.UPSTREAM_HOST, UPSTREAM_REMOTE_ADDRESS: C.UPSTREAM_REMOTE_ADDRESS,
  UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT: C.UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT, UPSTREAM_REMOTE_PORT: C.UPSTREAM_REMOTE_PORT,
  UPSTREAM_LOCAL_ADDRESS: C.UPSTREAM_LOCAL_ADDRESS, UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT: C.UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT,
  UPSTREAM_LOCAL_PORT: C.UPSTREAM_LOCAL_PORT, UPSTREAM_CLUSTER: C.UPSTREAM_CLUSTER,
  UPSTREAM_TRANSPORT_FAILURE_REASON: C.UPSTREAM_TRANSPORT_FAILURE_REASON,
  DOWNSTREAM_REMOTE_ADDRESS: C.DOWNSTREAM_REMOTE_ADDRESS, DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT: C.DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT,
  DOWNSTREAM_REMOTE_PORT: C.DOWNSTREAM_REMOTE_PORT,
  DOWNSTREAM_DIRECT_REMOTE_ADDRESS: C.DOWNSTREAM_DIRECT_REMOTE_ADDRESS,
  DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT: C.DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT,
  DOWNSTREAM_DIRECT_REMOTE_PORT: C.DOWNSTREAM_DIRECT_REMOTE_PORT,
  DOWNSTREAM_LOCAL_ADDRESS: C.DOWNSTREAM_LOCAL_ADDRESS, DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT: C.DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT,
  DOWNSTREAM_LOCAL_PORT: C.DOWNSTREAM_LOCAL_PORT, REQUESTED_SERVER_NAME: C.REQUESTED_SERVER_NAME,
  DOWNSTREAM_PEER_URI_SAN: C.DOWNSTREAM_PEER_URI_SAN, CONNECTION_ID: C.CONNECTION_ID, STREAM_ID: C.STREAM_ID,
  VIRTUAL_CLUSTER_NAME: C.VIRTUAL_CLUSTER_NAME, DYNAMIC_METADATA: C.DYNAMIC_METADATA,
  UPSTREAM_METADATA: C.UPSTREAM_METADATA, FILTER_STATE: C.FILTER_STATE, PER_REQUEST_STATE: C.FILTER_STATE,
  ENVIRONMENT: C.ENVIRONMENT,
};

/** Commands that take a mandatory argument. */
const NEEDS_ARG = new Set<C>([C.REQ, C.RESP, C.DYNAMIC_METADATA, C.UPSTREAM_METADATA, C.FILTER_STATE, C.ENVIRONMENT]);

/** The names this formatter understands (for docs and tests). */
export const SUPPORTED_COMMANDS: ReadonlyArray<string> = Object.keys(COMMANDS);

const HOSTNAME = os.hostname();

export class FormatterCommand {
  constructor(
    readonly cmd: C,
    /** REQ/RESP: main header (lowercase); START_TIME: format; metadata: namespace; FILTER_STATE: key. */
    readonly arg: string,
    /** REQ/RESP: alternative header after '?'. */
    readonly alt: string,
    /** Metadata key path. */
    readonly keys: string[],
    /** Truncate to this many characters; -1 = no limit. */
    readonly maxLen: number,
  ) {}
}

export class HeaderFormatter {
  /** When the template has no commands: its literal value (else null). */
  readonly literal: string | null;
  /** Names of the request/response headers the template reads (lowercase). */
  readonly readsHeaders: ReadonlyArray<string>;
  constructor(readonly source: string, readonly parts: ReadonlyArray<string | FormatterCommand>) {
    this.literal = parts.length === 0 ? '' : parts.length === 1 && typeof parts[0] === 'string' ? parts[0] : null;
    const reads: string[] = [];
    for (const p of parts) {
      if (typeof p !== 'string' && (p.cmd === C.REQ || p.cmd === C.RESP)) {
        reads.push(p.arg);
        if (p.alt) reads.push(p.alt);
      }
    }
    this.readsHeaders = reads;
  }

  format(ctx: FormatterContext): string {
    if (this.literal !== null) return this.literal;
    const parts = this.parts;
    let out = '';
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      out += typeof p === 'string' ? p : evalCommand(p, ctx);
    }
    return out;
  }
}

function isCmdChar(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95;
}

/**
 * Parse a header value template. Errors use Envoy's wording and name `path`.
 */
export function parseHeaderFormatter(format: string, path: string): HeaderFormatter {
  const parts: Array<string | FormatterCommand> = [];
  let lit = '';
  const n = format.length;
  for (let pos = 0; pos < n; pos++) {
    const ch = format[pos];
    if (ch !== '%') { lit += ch; continue; }
    if (pos + 1 < n && format[pos + 1] === '%') { lit += '%'; pos++; continue; }
    // %NAME(args):N%
    let j = pos + 1;
    while (j < n && isCmdChar(format.charCodeAt(j))) j++;
    const name = format.slice(pos + 1, j);
    let args: string | null = null;
    let ok = name.length > 0;
    if (ok && format[j] === '(') {
      const close = format.indexOf(')', j + 1);
      if (close < 0) ok = false;
      else { args = format.slice(j + 1, close); j = close + 1; }
    }
    let maxLen = -1;
    if (ok && format[j] === ':') {
      let k = j + 1;
      while (k < n && format.charCodeAt(k) >= 48 && format.charCodeAt(k) <= 57) k++;
      if (k === j + 1) ok = false;
      else { maxLen = Number(format.slice(j + 1, k)); j = k; }
    }
    if (ok && format[j] !== '%') ok = false;
    if (!ok) {
      throw new ConfigError(path, `Incorrect configuration: ${format}. Couldn't find valid command at position ${pos}`);
    }
    const compiled = compileCommand(name, args, maxLen, format, path);
    if (typeof compiled === 'string') lit += compiled;
    else {
      if (lit) { parts.push(lit); lit = ''; }
      parts.push(compiled);
    }
    pos = j;
  }
  if (lit) parts.push(lit);
  return new HeaderFormatter(format, parts);
}

function compileCommand(name: string, args: string | null, maxLen: number, format: string, path: string): FormatterCommand | string {
  const cmd = COMMANDS[name];
  if (cmd === undefined) throw new ConfigError(path, `Not supported field in StreamInfo: ${name} (in "${format}")`);
  if (NEEDS_ARG.has(cmd) && (args === null || args.trim() === '')) {
    throw new ConfigError(path, `${name} requires parameters (in "${format}")`);
  }
  switch (cmd) {
    case C.REQ:
    case C.RESP: {
      const a = args as string;
      const q = a.indexOf('?');
      const main = (q < 0 ? a : a.slice(0, q)).trim().toLowerCase();
      const alt = q < 0 ? '' : a.slice(q + 1).trim().toLowerCase();
      if (!main || (q >= 0 && !alt) || alt.includes('?')) {
        throw new ConfigError(path, `More than 1 alternative header specified in token: ${a} (in "${format}")`);
      }
      return new FormatterCommand(cmd, main, alt, [], maxLen);
    }
    case C.START_TIME:
      return new FormatterCommand(cmd, args ?? '', '', [], maxLen);
    case C.DYNAMIC_METADATA:
    case C.UPSTREAM_METADATA: {
      const keys = parseMetadataArgs(args as string, format, path);
      return new FormatterCommand(cmd, keys[0], '', keys.slice(1), maxLen);
    }
    case C.FILTER_STATE: {
      // FILTER_STATE(KEY) or FILTER_STATE(KEY:PLAIN|TYPED); remora stores plain values.
      const a = (args as string).trim();
      const colon = a.indexOf(':');
      return new FormatterCommand(cmd, colon < 0 ? a : a.slice(0, colon), '', [], maxLen);
    }
    case C.ENVIRONMENT: {
      // Resolved once at config time, like Envoy.
      const [varName, dflt] = (args as string).split(':', 2) as [string, string | undefined];
      const v = process.env[varName.trim()];
      const s = v !== undefined ? v : dflt !== undefined ? dflt : '';
      return maxLen >= 0 ? s.slice(0, maxLen) : s;
    }
    default:
      return new FormatterCommand(cmd, args ?? '', '', [], maxLen);
  }
}

/** `["ns", "a", "b"]` (legacy header syntax) or `ns:a:b`. */
function parseMetadataArgs(a: string, format: string, path: string): string[] {
  const t = a.trim();
  let keys: unknown;
  if (t.startsWith('[')) {
    try { keys = JSON.parse(t); } catch { keys = null; }
    if (!Array.isArray(keys) || keys.length === 0 || !keys.every((k) => typeof k === 'string')) {
      throw new ConfigError(path, `Invalid header configuration. Expected format ["namespace", "key", ...] in "${format}"`);
    }
    return keys as string[];
  }
  return t.split(':');
}

function addrPort(ip: string | undefined, port: number | undefined): string {
  if (!ip) return '';
  return ip.includes(':') ? `[${ip}]:${port ?? 0}` : `${ip}:${port ?? 0}`;
}

/** "ip:port" / "[v6]:port" -> ip. */
export function stripAddressPort(a: string): string {
  if (a.startsWith('[')) {
    const e = a.indexOf(']');
    return e < 0 ? a : a.slice(1, e);
  }
  const c = a.lastIndexOf(':');
  return c < 0 || a.indexOf(':') !== c ? a : a.slice(0, c);
}

function addressPort(a: string): string {
  if (a.startsWith('[')) {
    const e = a.indexOf(']:');
    return e < 0 ? '' : a.slice(e + 2);
  }
  const c = a.lastIndexOf(':');
  return c < 0 || a.indexOf(':') !== c ? '' : a.slice(c + 1);
}

function firstHeader(h: Headers | undefined, name: string): string | undefined {
  if (!h) return undefined;
  const v = h[name];
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : v[0];
}

function stringify(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (typeof v === 'object') {
    const s = (v as { serializeAsString?: () => unknown }).serializeAsString;
    if (typeof s === 'function') return String(s.call(v));
    try { return JSON.stringify(v); } catch { return ''; }
  }
  return '';
}

function walk(v: unknown, keys: string[]): unknown {
  for (let i = 0; i < keys.length; i++) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[keys[i]];
  }
  return v;
}

function evalCommand(p: FormatterCommand, ctx: FormatterContext): string {
  const si = ctx.streamInfo;
  const conn = si?.connection;
  let s: string;
  switch (p.cmd) {
    case C.REQ:
    case C.RESP: {
      const h = p.cmd === C.REQ ? ctx.requestHeaders : ctx.responseHeaders;
      let v = firstHeader(h, p.arg);
      if (v === undefined && p.alt) v = firstHeader(h, p.alt);
      s = v ?? '';
      break;
    }
    case C.START_TIME: s = formatTime(si?.startTime ?? Date.now(), p.arg); break;
    case C.HOSTNAME: s = HOSTNAME; break;
    case C.PROTOCOL: s = si?.protocol ?? ''; break;
    case C.RESPONSE_CODE: s = si?.responseCode ? String(si.responseCode) : ''; break;
    case C.RESPONSE_FLAGS: s = si?.responseFlags ? responseFlagsToString(si.responseFlags) : ''; break;
    case C.ROUTE_NAME: s = si?.routeName ?? ''; break;
    case C.UPSTREAM_HOST:
    case C.UPSTREAM_REMOTE_ADDRESS: s = si?.upstreamHost?.address ?? ''; break;
    case C.UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT: s = si?.upstreamHost ? stripAddressPort(si.upstreamHost.address) : ''; break;
    case C.UPSTREAM_REMOTE_PORT: s = si?.upstreamHost ? addressPort(si.upstreamHost.address) : ''; break;
    case C.UPSTREAM_LOCAL_ADDRESS: s = si?.upstreamLocalAddress ?? ''; break;
    case C.UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT: s = si?.upstreamLocalAddress ? stripAddressPort(si.upstreamLocalAddress) : ''; break;
    case C.UPSTREAM_LOCAL_PORT: s = si?.upstreamLocalAddress ? addressPort(si.upstreamLocalAddress) : ''; break;
    case C.UPSTREAM_CLUSTER: s = si?.upstreamCluster ?? ''; break;
    case C.UPSTREAM_TRANSPORT_FAILURE_REASON: s = si?.upstreamTransportFailureReason ?? ''; break;
    case C.DOWNSTREAM_REMOTE_ADDRESS: s = addrPort(conn?.remoteAddress, conn?.remotePort); break;
    case C.DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT: s = conn?.remoteAddress ?? ''; break;
    case C.DOWNSTREAM_REMOTE_PORT: s = conn?.remoteAddress ? String(conn.remotePort ?? 0) : ''; break;
    case C.DOWNSTREAM_DIRECT_REMOTE_ADDRESS: s = addrPort(conn?.directRemoteAddress, conn?.directRemotePort); break;
    case C.DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT: s = conn?.directRemoteAddress ?? ''; break;
    case C.DOWNSTREAM_DIRECT_REMOTE_PORT: s = conn?.directRemoteAddress ? String(conn.directRemotePort ?? 0) : ''; break;
    case C.DOWNSTREAM_LOCAL_ADDRESS: s = addrPort(conn?.localAddress, conn?.localPort); break;
    case C.DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT: s = conn?.localAddress ?? ''; break;
    case C.DOWNSTREAM_LOCAL_PORT: s = conn?.localAddress ? String(conn.localPort ?? 0) : ''; break;
    case C.REQUESTED_SERVER_NAME: s = conn?.sni ?? ''; break;
    case C.DOWNSTREAM_PEER_URI_SAN: s = conn?.peerUriSans ? conn.peerUriSans.join(',') : ''; break;
    case C.CONNECTION_ID: s = conn?.id !== undefined ? String(conn.id) : ''; break;
    case C.STREAM_ID: s = si?.requestId ?? ''; break;
    case C.VIRTUAL_CLUSTER_NAME: s = si?.virtualClusterName ?? ''; break;
    case C.DYNAMIC_METADATA: s = stringify(walk(si?.dynamicMetadata?.[p.arg], p.keys)); break;
    case C.UPSTREAM_METADATA: {
      const md = si?.upstreamHost?.metadata as { filter_metadata?: Record<string, unknown> } | undefined;
      s = stringify(walk(md?.filter_metadata?.[p.arg], p.keys));
      break;
    }
    case C.FILTER_STATE: s = stringify(si?.filterState?.get(p.arg)); break;
    default: s = '';
  }
  return p.maxLen >= 0 && s.length > p.maxLen ? s.slice(0, p.maxLen) : s;
}

// ---------------------------------------------------------------------------------------------
// START_TIME: absl::FormatTime-style formatting in UTC with Envoy's extensions
// (%f / %Nf fractional seconds, %s epoch seconds, %EnS seconds with n fraction digits).

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const DAYS_LONG = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTHS_LONG = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

function pad(n: number, w: number): string {
  let s = String(n);
  while (s.length < w) s = '0' + s;
  return s;
}

function fraction(ms: number, digits: number): string {
  // ms precision; remaining digits are zeros (remora's clock is ms).
  const f = pad(((ms % 1000) + 1000) % 1000, 3) + '000000';
  return f.slice(0, digits);
}

/** Default Envoy START_TIME format: 2024-01-02T03:04:05.678Z. */
export function formatTime(ms: number, fmt: string): string {
  if (!fmt) fmt = '%Y-%m-%dT%H:%M:%E3SZ';
  const d = new Date(ms);
  let out = '';
  for (let i = 0; i < fmt.length; i++) {
    const c = fmt[i];
    if (c !== '%' || i + 1 >= fmt.length) { out += c; continue; }
    let k = fmt[++i];
    // %Nf and %EnS
    if (k >= '1' && k <= '9' && fmt[i + 1] === 'f') { out += fraction(ms, Number(k)); i++; continue; }
    if (k === 'E' && fmt[i + 1] >= '0' && fmt[i + 1] <= '9' && fmt[i + 2] === 'S') {
      const n = Number(fmt[i + 1]);
      out += pad(d.getUTCSeconds(), 2) + (n > 0 ? '.' + fraction(ms, n) : '');
      i += 2;
      continue;
    }
    if (k === 'E' && fmt[i + 1] === '*' && fmt[i + 2] === 'S') {
      out += pad(d.getUTCSeconds(), 2) + '.' + fraction(ms, 3);
      i += 2;
      continue;
    }
    switch (k) {
      case 'Y': out += pad(d.getUTCFullYear(), 4); break;
      case 'y': out += pad(d.getUTCFullYear() % 100, 2); break;
      case 'm': out += pad(d.getUTCMonth() + 1, 2); break;
      case 'd': out += pad(d.getUTCDate(), 2); break;
      case 'e': out += String(d.getUTCDate()).padStart(2, ' '); break;
      case 'H': out += pad(d.getUTCHours(), 2); break;
      case 'M': out += pad(d.getUTCMinutes(), 2); break;
      case 'S': out += pad(d.getUTCSeconds(), 2); break;
      case 'j': {
        const start = Date.UTC(d.getUTCFullYear(), 0, 1);
        out += pad(Math.floor((ms - start) / 86400000) + 1, 3);
        break;
      }
      case 'a': out += DAYS[d.getUTCDay()]; break;
      case 'A': out += DAYS_LONG[d.getUTCDay()]; break;
      case 'b': case 'h': out += MONTHS[d.getUTCMonth()]; break;
      case 'B': out += MONTHS_LONG[d.getUTCMonth()]; break;
      case 'T': out += `${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}`; break;
      case 'R': out += `${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}`; break;
      case 'F': out += `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}`; break;
      case 'D': out += `${pad(d.getUTCMonth() + 1, 2)}/${pad(d.getUTCDate(), 2)}/${pad(d.getUTCFullYear() % 100, 2)}`; break;
      case 'z': out += '+0000'; break;
      case 'Z': out += 'UTC'; break;
      case 's': out += String(Math.floor(ms / 1000)); break;
      case 'f': out += fraction(ms, 9); break;
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case '%': out += '%'; break;
      default: out += '%' + k; k = '';
    }
  }
  return out;
}

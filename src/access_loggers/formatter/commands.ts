// Command operators (%NAME(arg):Z%): the table of known commands, their syntax
// rules, and the per-request renderers.
//
// A compiled command is a `Command` object (one shape for all commands) whose
// numeric `op` selects a branch of one switch statement: no closures, no regex,
// no per-request allocation beyond the output strings.
import * as os from 'node:os';
import { randomUUID } from 'node:crypto';
import type { StreamInfo, ConnectionInfo } from '../../common/stream_info';
import { responseFlagsToString, RESPONSE_FLAG_SHORT } from '../../common/response_flags';
import { getHeader, type Headers } from '../../http/headers';
import { TimeFormatter, timeFormatHasNewline } from './time_format';
import {
  grpcStatusOf, isGrpcRequest, GRPC_NONE, GRPC_INVALID_CODE, GRPC_STATUS_CAMEL, GRPC_STATUS_SNAKE,
} from './grpc_status';

/**
 * StreamInfo facts the formatter reads when a producer sets them but that are not
 * (yet) declared on StreamInfo itself. Absent = "not known" = '-'.
 */
export interface StreamInfoExtras {
  /** 'HTTP/1.1' | 'HTTP/2' of the upstream request. */
  upstreamProtocol?: string;
  /** ns since startHr when the last request byte was received from downstream (%REQUEST_DURATION%). */
  lastDownstreamRxNs?: number;
  /** ns since startHr when the last request byte was sent upstream (%REQUEST_TX_DURATION%). */
  lastUpstreamTxNs?: number;
  /** Body of a local reply (%LOCAL_REPLY_BODY%). */
  localReplyBody?: string;
  /** True when the health_check filter marked this request as a health check (not_health_check_filter). */
  healthCheck?: boolean;
  /** True when tracing decided to trace this request (traceable_filter). */
  traced?: boolean;
}

/** Downstream TLS facts (set by the TLS transport socket) not yet declared on ConnectionInfo. */
export interface ConnectionInfoExtras {
  tlsVersion?: string;        // 'TLSv1.3'
  tlsCipher?: string;         // OpenSSL cipher name
  tlsSessionId?: string;      // hex
  localUriSans?: string[];
  peerDnsSans?: string[];
  peerSubject?: string;
  localSubject?: string;
  peerIssuer?: string;
  peerFingerprint256?: string; // hex
  peerSerial?: string;
  /** Connection-level filter state (listener filters); consulted after the stream's. */
  filterState?: Map<string, unknown>;
}

type Info = StreamInfo & StreamInfoExtras;
type Conn = ConnectionInfo & ConnectionInfoExtras;

// Result kinds of a command in typed JSON output.
export const K_STR = 0;
export const K_NUM = 1;
export const K_JSON = 2;

// Syntax flags (Envoy's CommandSyntaxChecker).
const COMMAND_ONLY = 0;
const PARAMS_REQUIRED = 1;
const PARAMS_OPTIONAL = 2;
const LENGTH_ALLOWED = 4;

// Opcodes.
const enum Op {
  START_TIME, START_TIME_LOCAL, EMIT_TIME, EMIT_TIME_LOCAL,
  REQ, RESP, TRAILER,
  PROTOCOL, UPSTREAM_PROTOCOL,
  RESPONSE_CODE, RESPONSE_CODE_DETAILS, CONNECTION_TERMINATION_DETAILS,
  RESPONSE_FLAGS, RESPONSE_FLAGS_LONG,
  BYTES_RECEIVED, BYTES_SENT, UPSTREAM_WIRE_BYTES_SENT, UPSTREAM_WIRE_BYTES_RECEIVED,
  DURATION, REQUEST_DURATION, REQUEST_TX_DURATION, RESPONSE_DURATION, RESPONSE_TX_DURATION,
  UPSTREAM_HOST, UPSTREAM_HOST_NAME, UPSTREAM_HOST_NAME_WITHOUT_PORT, UPSTREAM_CLUSTER,
  UPSTREAM_LOCAL_ADDRESS, UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT, UPSTREAM_LOCAL_PORT,
  UPSTREAM_REMOTE_ADDRESS, UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT, UPSTREAM_REMOTE_PORT,
  UPSTREAM_TRANSPORT_FAILURE_REASON, UPSTREAM_REQUEST_ATTEMPT_COUNT,
  DOWNSTREAM_REMOTE_ADDRESS, DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT, DOWNSTREAM_REMOTE_PORT,
  DOWNSTREAM_DIRECT_REMOTE_ADDRESS, DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT, DOWNSTREAM_DIRECT_REMOTE_PORT,
  DOWNSTREAM_LOCAL_ADDRESS, DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT, DOWNSTREAM_LOCAL_PORT,
  CONNECTION_ID, REQUESTED_SERVER_NAME, ROUTE_NAME, VIRTUAL_CLUSTER_NAME, FILTER_CHAIN_NAME,
  STREAM_ID, UNIQUE_ID, LOCAL_REPLY_BODY, FIXED, // FIXED: HOSTNAME / ENVIRONMENT, value computed at compile time
  DOWNSTREAM_PEER_URI_SAN, DOWNSTREAM_LOCAL_URI_SAN, DOWNSTREAM_PEER_DNS_SAN, DOWNSTREAM_PEER_SUBJECT,
  DOWNSTREAM_LOCAL_SUBJECT, DOWNSTREAM_PEER_ISSUER, DOWNSTREAM_TLS_SESSION_ID, DOWNSTREAM_TLS_CIPHER,
  DOWNSTREAM_TLS_VERSION, DOWNSTREAM_PEER_FINGERPRINT_256, DOWNSTREAM_PEER_SERIAL,
  GRPC_STATUS, GRPC_STATUS_NUMBER,
  DYNAMIC_METADATA, FILTER_STATE,
}

// FILTER_STATE modes / GRPC_STATUS modes / RESPONSE_CODE_DETAILS modes.
const FS_TYPED = 0;
const FS_PLAIN = 1;
const FS_FIELD = 2;
const GS_CAMEL = 0;
const GS_SNAKE = 1;
const GS_NUMBER = 2;

interface CommandDef { op: Op; kind: number; flags: number }

const D = (op: Op, kind: number, flags = COMMAND_ONLY): CommandDef => ({ op, kind, flags });

const TABLE: ReadonlyMap<string, CommandDef> = new Map<string, CommandDef>([
  ['START_TIME', D(Op.START_TIME, K_STR, PARAMS_OPTIONAL)],
  ['START_TIME_LOCAL', D(Op.START_TIME_LOCAL, K_STR, PARAMS_OPTIONAL)],
  ['EMIT_TIME', D(Op.EMIT_TIME, K_STR, PARAMS_OPTIONAL)],
  ['EMIT_TIME_LOCAL', D(Op.EMIT_TIME_LOCAL, K_STR, PARAMS_OPTIONAL)],
  ['REQ', D(Op.REQ, K_STR, PARAMS_REQUIRED | LENGTH_ALLOWED)],
  ['RESP', D(Op.RESP, K_STR, PARAMS_REQUIRED | LENGTH_ALLOWED)],
  ['TRAILER', D(Op.TRAILER, K_STR, PARAMS_REQUIRED | LENGTH_ALLOWED)],
  ['PROTOCOL', D(Op.PROTOCOL, K_STR)],
  ['UPSTREAM_PROTOCOL', D(Op.UPSTREAM_PROTOCOL, K_STR)],
  ['RESPONSE_CODE', D(Op.RESPONSE_CODE, K_NUM)],
  ['RESPONSE_CODE_DETAILS', D(Op.RESPONSE_CODE_DETAILS, K_STR, PARAMS_OPTIONAL)],
  ['CONNECTION_TERMINATION_DETAILS', D(Op.CONNECTION_TERMINATION_DETAILS, K_STR)],
  ['RESPONSE_FLAGS', D(Op.RESPONSE_FLAGS, K_STR)],
  ['RESPONSE_FLAGS_LONG', D(Op.RESPONSE_FLAGS_LONG, K_STR)],
  ['BYTES_RECEIVED', D(Op.BYTES_RECEIVED, K_NUM)],
  ['BYTES_SENT', D(Op.BYTES_SENT, K_NUM)],
  ['UPSTREAM_WIRE_BYTES_SENT', D(Op.UPSTREAM_WIRE_BYTES_SENT, K_NUM)],
  ['UPSTREAM_WIRE_BYTES_RECEIVED', D(Op.UPSTREAM_WIRE_BYTES_RECEIVED, K_NUM)],
  ['DURATION', D(Op.DURATION, K_NUM)],
  ['REQUEST_DURATION', D(Op.REQUEST_DURATION, K_NUM)],
  ['REQUEST_TX_DURATION', D(Op.REQUEST_TX_DURATION, K_NUM)],
  ['RESPONSE_DURATION', D(Op.RESPONSE_DURATION, K_NUM)],
  ['RESPONSE_TX_DURATION', D(Op.RESPONSE_TX_DURATION, K_NUM)],
  ['UPSTREAM_HOST', D(Op.UPSTREAM_HOST, K_STR)],
  ['UPSTREAM_HOST_NAME', D(Op.UPSTREAM_HOST_NAME, K_STR)],
  ['UPSTREAM_HOST_NAME_WITHOUT_PORT', D(Op.UPSTREAM_HOST_NAME_WITHOUT_PORT, K_STR)],
  ['UPSTREAM_CLUSTER', D(Op.UPSTREAM_CLUSTER, K_STR)],
  ['UPSTREAM_CLUSTER_RAW', D(Op.UPSTREAM_CLUSTER, K_STR)],
  ['UPSTREAM_LOCAL_ADDRESS', D(Op.UPSTREAM_LOCAL_ADDRESS, K_STR)],
  ['UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT', D(Op.UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT, K_STR)],
  ['UPSTREAM_LOCAL_PORT', D(Op.UPSTREAM_LOCAL_PORT, K_NUM)],
  ['UPSTREAM_REMOTE_ADDRESS', D(Op.UPSTREAM_REMOTE_ADDRESS, K_STR)],
  ['UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT', D(Op.UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT, K_STR)],
  ['UPSTREAM_REMOTE_PORT', D(Op.UPSTREAM_REMOTE_PORT, K_NUM)],
  ['UPSTREAM_TRANSPORT_FAILURE_REASON', D(Op.UPSTREAM_TRANSPORT_FAILURE_REASON, K_STR)],
  ['UPSTREAM_REQUEST_ATTEMPT_COUNT', D(Op.UPSTREAM_REQUEST_ATTEMPT_COUNT, K_NUM)],
  ['DOWNSTREAM_REMOTE_ADDRESS', D(Op.DOWNSTREAM_REMOTE_ADDRESS, K_STR)],
  ['DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT', D(Op.DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT, K_STR)],
  ['DOWNSTREAM_REMOTE_PORT', D(Op.DOWNSTREAM_REMOTE_PORT, K_NUM)],
  ['DOWNSTREAM_DIRECT_REMOTE_ADDRESS', D(Op.DOWNSTREAM_DIRECT_REMOTE_ADDRESS, K_STR)],
  ['DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT', D(Op.DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT, K_STR)],
  ['DOWNSTREAM_DIRECT_REMOTE_PORT', D(Op.DOWNSTREAM_DIRECT_REMOTE_PORT, K_NUM)],
  ['DOWNSTREAM_LOCAL_ADDRESS', D(Op.DOWNSTREAM_LOCAL_ADDRESS, K_STR)],
  ['DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT', D(Op.DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT, K_STR)],
  ['DOWNSTREAM_LOCAL_PORT', D(Op.DOWNSTREAM_LOCAL_PORT, K_NUM)],
  ['CONNECTION_ID', D(Op.CONNECTION_ID, K_NUM)],
  ['REQUESTED_SERVER_NAME', D(Op.REQUESTED_SERVER_NAME, K_STR)],
  ['ROUTE_NAME', D(Op.ROUTE_NAME, K_STR)],
  ['VIRTUAL_CLUSTER_NAME', D(Op.VIRTUAL_CLUSTER_NAME, K_STR)],
  ['FILTER_CHAIN_NAME', D(Op.FILTER_CHAIN_NAME, K_STR)],
  ['HOSTNAME', D(Op.FIXED, K_STR)],
  ['ENVIRONMENT', D(Op.FIXED, K_STR, PARAMS_REQUIRED | LENGTH_ALLOWED)],
  ['STREAM_ID', D(Op.STREAM_ID, K_STR)],
  ['UNIQUE_ID', D(Op.UNIQUE_ID, K_STR)],
  ['LOCAL_REPLY_BODY', D(Op.LOCAL_REPLY_BODY, K_STR)],
  ['DOWNSTREAM_PEER_URI_SAN', D(Op.DOWNSTREAM_PEER_URI_SAN, K_STR)],
  ['DOWNSTREAM_LOCAL_URI_SAN', D(Op.DOWNSTREAM_LOCAL_URI_SAN, K_STR)],
  ['DOWNSTREAM_PEER_DNS_SAN', D(Op.DOWNSTREAM_PEER_DNS_SAN, K_STR)],
  ['DOWNSTREAM_PEER_SUBJECT', D(Op.DOWNSTREAM_PEER_SUBJECT, K_STR)],
  ['DOWNSTREAM_LOCAL_SUBJECT', D(Op.DOWNSTREAM_LOCAL_SUBJECT, K_STR)],
  ['DOWNSTREAM_PEER_ISSUER', D(Op.DOWNSTREAM_PEER_ISSUER, K_STR)],
  ['DOWNSTREAM_TLS_SESSION_ID', D(Op.DOWNSTREAM_TLS_SESSION_ID, K_STR)],
  ['DOWNSTREAM_TLS_CIPHER', D(Op.DOWNSTREAM_TLS_CIPHER, K_STR)],
  ['DOWNSTREAM_TLS_VERSION', D(Op.DOWNSTREAM_TLS_VERSION, K_STR)],
  ['DOWNSTREAM_PEER_FINGERPRINT_256', D(Op.DOWNSTREAM_PEER_FINGERPRINT_256, K_STR)],
  ['DOWNSTREAM_PEER_SERIAL', D(Op.DOWNSTREAM_PEER_SERIAL, K_STR)],
  ['GRPC_STATUS', D(Op.GRPC_STATUS, K_STR, PARAMS_OPTIONAL)],
  ['GRPC_STATUS_NUMBER', D(Op.GRPC_STATUS_NUMBER, K_NUM)],
  ['DYNAMIC_METADATA', D(Op.DYNAMIC_METADATA, K_JSON, PARAMS_REQUIRED | LENGTH_ALLOWED)],
  ['FILTER_STATE', D(Op.FILTER_STATE, K_JSON, PARAMS_OPTIONAL | LENGTH_ALLOWED)],
]);

/** Every command operator name this engine knows (for docs/tests). */
export function supportedCommands(): string[] { return [...TABLE.keys()]; }

/** A compiled command operator. One object shape for every command. */
export class Command {
  constructor(
    readonly name: string,
    readonly op: number,
    readonly kind: number,
    /** Main header (lowercase) / metadata namespace / filter state key. */
    readonly arg: string,
    /** Alternative header (lowercase) / filter state field name. */
    readonly alt: string,
    /** Truncation length, -1 = none. */
    readonly maxLen: number,
    /** Metadata key path. */
    readonly keys: readonly string[],
    readonly time: TimeFormatter | undefined,
    /** Precomputed value (HOSTNAME, ENVIRONMENT); undefined = missing. */
    readonly fixed: string | undefined,
    /** Sub-mode (FILTER_STATE serialization, GRPC_STATUS format, RESPONSE_CODE_DETAILS whitespace). */
    readonly mode: number,
  ) {}
}

/** Thrown by compileCommand; the caller adds the field path. */
export class CommandError extends Error {}

function splitOnce(s: string, sep: string): [string, string] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + 1)];
}

let hostnameCache: string | undefined | null = null;
function hostname(): string | undefined {
  if (hostnameCache === null) {
    try { hostnameCache = os.hostname() || undefined; } catch { hostnameCache = undefined; }
  }
  return hostnameCache;
}

// Header names: RFC 9110 token characters, plus a leading ':' for pseudo headers.
function validHeaderName(n: string): boolean {
  if (n.length === 0) return false;
  for (let i = 0; i < n.length; i++) {
    const c = n.charCodeAt(i);
    if (c === 58 && i === 0) continue; // ':'
    const ok = (c >= 48 && c <= 57) || (c >= 97 && c <= 122) || c === 33 || (c >= 35 && c <= 39) ||
      c === 42 || c === 43 || c === 45 || c === 46 || c === 94 || c === 95 || c === 96 || c === 124 || c === 126;
    if (!ok) return false;
  }
  return true;
}

/**
 * Compile one command operator. `sub` is the text inside the parentheses (undefined when
 * none were written), `len` the `:Z` truncation (undefined when absent).
 */
export function compileCommand(name: string, sub: string | undefined, len: number | undefined): Command {
  const def = TABLE.get(name);
  if (def === undefined) throw new CommandError(`unsupported command operator %${name}%`);
  const hasSub = sub !== undefined && sub.length > 0;
  if (def.flags === COMMAND_ONLY && (hasSub || len !== undefined)) {
    throw new CommandError(`%${name}% does not take any parameters or length`);
  }
  if ((def.flags & PARAMS_REQUIRED) !== 0 && !hasSub) throw new CommandError(`%${name}% requires parameters`);
  if ((def.flags & LENGTH_ALLOWED) === 0 && len !== undefined) {
    throw new CommandError(`%${name}% does not allow length to be specified`);
  }
  const s = sub ?? '';
  const maxLen = len ?? -1;
  let arg = '';
  let alt = '';
  let keys: string[] = [];
  let time: TimeFormatter | undefined;
  let fixed: string | undefined;
  let mode = 0;
  switch (def.op) {
    case Op.START_TIME: case Op.START_TIME_LOCAL: case Op.EMIT_TIME: case Op.EMIT_TIME_LOCAL:
      if (timeFormatHasNewline(s)) throw new CommandError(`%${name}% format contains a newline`);
      time = new TimeFormatter(s, def.op === Op.START_TIME_LOCAL || def.op === Op.EMIT_TIME_LOCAL);
      break;
    case Op.REQ: case Op.RESP: case Op.TRAILER: {
      const parts = s.split('?');
      if (parts.length > 2) throw new CommandError(`more than 1 alternative header specified in token: ${s}`);
      arg = parts[0].toLowerCase();
      alt = (parts[1] ?? '').toLowerCase();
      if (!validHeaderName(arg) || (alt !== '' && !validHeaderName(alt))) {
        throw new CommandError(`invalid header name in %${name}(${s})%`);
      }
      break;
    }
    case Op.RESPONSE_CODE_DETAILS:
      if (hasSub && s !== 'ALLOW_WHITESPACES') {
        throw new CommandError(`%${name}% only accepts ALLOW_WHITESPACES, got "${s}"`);
      }
      mode = s === 'ALLOW_WHITESPACES' ? 1 : 0;
      break;
    case Op.FIXED:
      if (name === 'HOSTNAME') {
        fixed = hostname();
      } else {
        const v = process.env[s];
        fixed = v === undefined ? '-' : (maxLen >= 0 && v.length > maxLen ? v.slice(0, maxLen) : v);
      }
      break;
    case Op.DYNAMIC_METADATA: {
      const parts = s.split(':');
      arg = parts[0];
      keys = parts.slice(1);
      if (arg === '') throw new CommandError(`%${name}% requires a namespace`);
      break;
    }
    case Op.FILTER_STATE: {
      const [key, rest] = splitOnce(s, ':');
      const [ser, field] = splitOnce(rest, ':');
      if (key === '') throw new CommandError('invalid filter state configuration, key cannot be empty');
      const t = ser === '' ? 'TYPED' : ser;
      if (t !== 'PLAIN' && t !== 'TYPED' && t !== 'FIELD') {
        throw new CommandError('invalid filter state serialize type, only support PLAIN/TYPED/FIELD');
      }
      if ((t === 'FIELD') !== (field !== '')) {
        throw new CommandError('invalid filter state serialize type, FIELD should be used with the field name');
      }
      arg = key;
      alt = field;
      mode = t === 'PLAIN' ? FS_PLAIN : t === 'FIELD' ? FS_FIELD : FS_TYPED;
      break;
    }
    case Op.GRPC_STATUS:
      if (s === '' || s === 'CAMEL_STRING') mode = GS_CAMEL;
      else if (s === 'SNAKE_STRING') mode = GS_SNAKE;
      else if (s === 'NUMBER') mode = GS_NUMBER;
      else throw new CommandError(`%GRPC_STATUS% format must be CAMEL_STRING, SNAKE_STRING or NUMBER, got "${s}"`);
      break;
    default:
      break;
  }
  const kind = def.op === Op.FILTER_STATE && mode !== FS_TYPED ? K_STR
    : def.op === Op.GRPC_STATUS && mode === GS_NUMBER ? K_NUM : def.kind;
  return new Command(name, def.op, kind, arg, alt, maxLen, keys, time, fixed, mode);
}

// ---------------------------------------------------------------------------
// Rendering helpers.

function trunc(s: string, max: number): string {
  return max >= 0 && s.length > max ? s.slice(0, max) : s;
}

function hostPort(ip: string, port: number): string {
  return ip.indexOf(':') >= 0 ? '[' + ip + ']:' + port : ip + ':' + port;
}

/** "1.2.3.4:80" -> "1.2.3.4"; "[::1]:80" -> "::1"; "::1" (no port) unchanged. */
export function stripPort(addr: string): string {
  if (addr.charCodeAt(0) === 91 /* [ */) {
    const e = addr.indexOf(']');
    return e < 0 ? addr : addr.slice(1, e);
  }
  const i = addr.indexOf(':');
  if (i < 0 || addr.indexOf(':', i + 1) >= 0) return addr;
  return addr.slice(0, i);
}

/** Port of "ip:port" / "[v6]:port", or -1. */
export function portOf(addr: string): number {
  let i: number;
  if (addr.charCodeAt(0) === 91) {
    const e = addr.indexOf(']');
    if (e < 0 || addr.charCodeAt(e + 1) !== 58) return -1;
    i = e + 1;
  } else {
    i = addr.indexOf(':');
    if (i < 0 || addr.indexOf(':', i + 1) >= 0) return -1;
  }
  let n = 0;
  if (i + 1 >= addr.length) return -1;
  for (let k = i + 1; k < addr.length; k++) {
    const c = addr.charCodeAt(k) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

function firstHeader(h: Headers | undefined, main: string, alt: string): string | undefined {
  if (h === undefined) return undefined;
  let v = getHeader(h, main);
  if (v === undefined && alt !== '') v = getHeader(h, alt);
  return v;
}

function replaceWhitespace(s: string): string {
  let found = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 32 || (c >= 9 && c <= 13)) { found = true; break; }
  }
  if (!found) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c === 32 || (c >= 9 && c <= 13) ? '_' : s[i];
  }
  return out;
}

/** Envoy's StringUtil::sanitizeInvalidHostname. */
function sanitizeSni(s: string): string {
  let bad = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 46 || c === 45)) {
      bad = true; break;
    }
  }
  if (!bad) return s;
  let out = 'invalid:';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 46 || c === 45 ? s[i] : '_';
  }
  return out;
}

const RESPONSE_FLAG_LONG_NAMES: Readonly<Record<string, string>> = {
  LH: 'FailedLocalHealthCheck', UH: 'NoHealthyUpstream', UT: 'UpstreamRequestTimeout', LR: 'LocalReset',
  UR: 'UpstreamRemoteReset', UF: 'UpstreamConnectionFailure', UC: 'UpstreamConnectionTermination',
  UO: 'UpstreamOverflow', NR: 'NoRouteFound', DI: 'DelayInjected', FI: 'FaultInjected', RL: 'RateLimited',
  UAEX: 'UnauthorizedExternalService', RLSE: 'RateLimitServiceError', DC: 'DownstreamConnectionTermination',
  URX: 'UpstreamRetryLimitExceeded', SI: 'StreamIdleTimeout', IH: 'InvalidEnvoyRequestHeaders',
  DPE: 'DownstreamProtocolError', UMSDR: 'UpstreamMaxStreamDurationReached', RFCF: 'ResponseFromCacheFilter',
  NFCF: 'NoFilterConfigFound', DT: 'DurationTimeout', UPE: 'UpstreamProtocolError', NC: 'NoClusterFound',
  OM: 'OverloadManagerTerminated', DF: 'DnsResolutionFailed', DO: 'DropOverload', DR: 'DownstreamRemoteReset',
};
const LONG_TABLE: ReadonlyArray<[number, string]> =
  RESPONSE_FLAG_SHORT.map(([bit, short]) => [bit, RESPONSE_FLAG_LONG_NAMES[short] ?? short]);

/** Envoy's ResponseFlagUtils::toString(info, use_long_name=true): "-" when none. */
export function responseFlagsToLongString(flags: number): string {
  if (flags === 0) return '-';
  let out = '';
  for (let i = 0; i < LONG_TABLE.length; i++) {
    if (flags & LONG_TABLE[i][0]) out = out ? out + ',' + LONG_TABLE[i][1] : LONG_TABLE[i][1];
  }
  return out;
}

// Cache of the last rendered short flags string (flags repeat a lot: usually 0).
let lastFlags = 0;
let lastFlagsStr = '-';
function shortFlags(flags: number): string {
  if (flags !== lastFlags) { lastFlags = flags; lastFlagsStr = responseFlagsToString(flags); }
  return lastFlagsStr;
}

function msFloor(ns: number): number { return Math.floor(ns / 1e6); }

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === '' ? undefined : s;
}

function joinList(l: string[] | undefined): string | undefined {
  return l === undefined || l.length === 0 ? undefined : l.length === 1 ? l[0] : l.join(',');
}

function tlsField(conn: Conn, v: string | undefined): string | undefined {
  return conn.tls ? nonEmpty(v) : undefined;
}

function filterStateValue(info: Info, key: string): unknown {
  let v = info.filterState?.get(key);
  if (v === undefined) v = (info.connection as Conn).filterState?.get(key);
  return v;
}

function metadataValue(info: Info, ns: string, keys: readonly string[]): unknown {
  const md = info.dynamicMetadata;
  if (md === undefined) return undefined;
  let v: unknown = md[ns];
  for (let i = 0; i < keys.length && v !== undefined; i++) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[keys[i]];
  }
  return v;
}

function plainOf(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  const f = (v as { serializeAsString?: unknown }).serializeAsString;
  if (typeof f === 'function') {
    const s = (f as () => unknown).call(v);
    return typeof s === 'string' ? s : undefined;
  }
  return JSON.stringify(v);
}

function fieldOf(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null || typeof v !== 'object') return undefined;
  const getField = (v as { getField?: unknown }).getField;
  const f = typeof getField === 'function' ? (getField as (n: string) => unknown).call(v, field)
    : (v as Record<string, unknown>)[field];
  if (typeof f === 'string') return f;
  if (typeof f === 'number' && Number.isInteger(f)) return String(f);
  return undefined;
}

/** JSON-typed value of a filter state object (TYPED serialization). */
function typedOf(v: unknown): unknown {
  if (v === undefined) return undefined;
  if (v !== null && typeof v === 'object') {
    const f = (v as { serializeAsJson?: unknown }).serializeAsJson;
    if (typeof f === 'function') return (f as () => unknown).call(v);
  }
  if (typeof v === 'bigint') return Number(v);
  return v;
}

function grpcText(c: Command, info: Info, req: Headers | undefined, resp: Headers | undefined,
  tr: Headers | undefined): string | undefined {
  if (!isGrpcRequest(req)) return undefined;
  const s = grpcStatusOf(tr, resp, info.responseCode, true);
  if (s === GRPC_NONE) return undefined;
  if (c.mode === GS_NUMBER || s < 0 || s > 16) return String(s === GRPC_INVALID_CODE ? -1 : s);
  return c.mode === GS_SNAKE ? GRPC_STATUS_SNAKE[s] : GRPC_STATUS_CAMEL[s];
}

// ---------------------------------------------------------------------------
// Per-request rendering.

/** Numeric value of a K_NUM command; -1 when missing. */
export function renderNumber(c: Command, info: Info, req: Headers | undefined, resp: Headers | undefined,
  tr: Headers | undefined): number {
  const conn = info.connection;
  switch (c.op) {
    case Op.RESPONSE_CODE: return info.responseCode;
    case Op.BYTES_RECEIVED: return info.bytesReceived;
    case Op.BYTES_SENT: return info.bytesSent;
    case Op.UPSTREAM_WIRE_BYTES_SENT: return info.upstreamBytesSent;
    case Op.UPSTREAM_WIRE_BYTES_RECEIVED: return info.upstreamBytesReceived;
    case Op.UPSTREAM_REQUEST_ATTEMPT_COUNT: return info.attemptCount;
    case Op.CONNECTION_ID: return conn.id;
    case Op.DURATION: return msFloor(info.endNs >= 0 ? info.endNs : info.nowNs());
    case Op.REQUEST_DURATION: {
      const v = info.lastDownstreamRxNs;
      return v === undefined || v < 0 ? -1 : msFloor(v);
    }
    case Op.REQUEST_TX_DURATION: {
      const v = info.lastUpstreamTxNs;
      return v === undefined || v < 0 ? -1 : msFloor(v);
    }
    case Op.RESPONSE_DURATION: return info.firstUpstreamRxNs < 0 ? -1 : msFloor(info.firstUpstreamRxNs);
    case Op.RESPONSE_TX_DURATION:
      return info.lastDownstreamTxNs < 0 || info.firstUpstreamRxNs < 0 || info.lastDownstreamTxNs < info.firstUpstreamRxNs
        ? -1 : msFloor(info.lastDownstreamTxNs - info.firstUpstreamRxNs);
    case Op.DOWNSTREAM_LOCAL_PORT: return conn.localAddress ? conn.localPort : -1;
    case Op.DOWNSTREAM_REMOTE_PORT: return conn.remoteAddress ? conn.remotePort : -1;
    case Op.DOWNSTREAM_DIRECT_REMOTE_PORT: return conn.directRemoteAddress ? conn.directRemotePort : -1;
    case Op.UPSTREAM_LOCAL_PORT: return info.upstreamLocalAddress ? portOf(info.upstreamLocalAddress) : -1;
    case Op.UPSTREAM_REMOTE_PORT: return info.upstreamHost ? portOf(info.upstreamHost.address) : -1;
    case Op.GRPC_STATUS_NUMBER: case Op.GRPC_STATUS: {
      if (c.op === Op.GRPC_STATUS && !isGrpcRequest(req)) return -1;
      const s = grpcStatusOf(tr, resp, info.responseCode, true);
      return s === GRPC_NONE ? -1 : s === GRPC_INVALID_CODE ? -1 : s;
    }
    default: return -1;
  }
}

/** Text of a command; undefined when the value is missing (rendered as '-' or ''). */
export function renderText(c: Command, info: Info, req: Headers | undefined, resp: Headers | undefined,
  tr: Headers | undefined): string | undefined {
  const conn = info.connection as Conn;
  switch (c.op) {
    case Op.START_TIME: case Op.START_TIME_LOCAL: return c.time!.render(info.startTime);
    case Op.EMIT_TIME: case Op.EMIT_TIME_LOCAL: return c.time!.render(Date.now());
    case Op.REQ: { const v = firstHeader(req, c.arg, c.alt); return v === undefined ? v : trunc(v, c.maxLen); }
    case Op.RESP: { const v = firstHeader(resp, c.arg, c.alt); return v === undefined ? v : trunc(v, c.maxLen); }
    case Op.TRAILER: { const v = firstHeader(tr, c.arg, c.alt); return v === undefined ? v : trunc(v, c.maxLen); }
    case Op.PROTOCOL: return nonEmpty(info.protocol);
    case Op.UPSTREAM_PROTOCOL: return nonEmpty(info.upstreamProtocol);
    case Op.RESPONSE_CODE_DETAILS: {
      const d = info.responseCodeDetails;
      if (d === '') return undefined;
      return c.mode === 1 ? d : replaceWhitespace(d);
    }
    case Op.CONNECTION_TERMINATION_DETAILS: return nonEmpty(info.connectionTerminationDetails);
    case Op.RESPONSE_FLAGS: return shortFlags(info.responseFlags);
    case Op.RESPONSE_FLAGS_LONG: return responseFlagsToLongString(info.responseFlags);
    case Op.UPSTREAM_HOST: case Op.UPSTREAM_REMOTE_ADDRESS:
      return info.upstreamHost ? nonEmpty(info.upstreamHost.address) : undefined;
    case Op.UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT:
      return info.upstreamHost && info.upstreamHost.address ? stripPort(info.upstreamHost.address) : undefined;
    case Op.UPSTREAM_HOST_NAME: case Op.UPSTREAM_HOST_NAME_WITHOUT_PORT: {
      const h = info.upstreamHost;
      if (!h) return undefined;
      const n = h.hostname || h.address;
      if (!n) return undefined;
      return c.op === Op.UPSTREAM_HOST_NAME ? n : stripPort(n);
    }
    case Op.UPSTREAM_CLUSTER: return nonEmpty(info.upstreamCluster);
    case Op.UPSTREAM_LOCAL_ADDRESS: return nonEmpty(info.upstreamLocalAddress);
    case Op.UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT:
      return info.upstreamLocalAddress ? stripPort(info.upstreamLocalAddress) : undefined;
    case Op.UPSTREAM_TRANSPORT_FAILURE_REASON: {
      const r = info.upstreamTransportFailureReason;
      return r === '' ? undefined : r.indexOf(' ') < 0 ? r : r.replaceAll(' ', '_');
    }
    case Op.DOWNSTREAM_REMOTE_ADDRESS:
      return conn.remoteAddress ? hostPort(conn.remoteAddress, conn.remotePort) : undefined;
    case Op.DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT: return nonEmpty(conn.remoteAddress);
    case Op.DOWNSTREAM_DIRECT_REMOTE_ADDRESS:
      return conn.directRemoteAddress ? hostPort(conn.directRemoteAddress, conn.directRemotePort) : undefined;
    case Op.DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT: return nonEmpty(conn.directRemoteAddress);
    case Op.DOWNSTREAM_LOCAL_ADDRESS:
      return conn.localAddress ? hostPort(conn.localAddress, conn.localPort) : undefined;
    case Op.DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT: return nonEmpty(conn.localAddress);
    case Op.REQUESTED_SERVER_NAME: return conn.sni ? sanitizeSni(conn.sni) : undefined;
    case Op.ROUTE_NAME: return nonEmpty(info.routeName);
    case Op.VIRTUAL_CLUSTER_NAME: return nonEmpty(info.virtualClusterName);
    case Op.FILTER_CHAIN_NAME: return nonEmpty(conn.filterChainName);
    case Op.STREAM_ID: return nonEmpty(info.requestId);
    case Op.UNIQUE_ID: return randomUUID();
    case Op.LOCAL_REPLY_BODY: return info.localReplyBody;
    case Op.FIXED: return c.fixed;
    case Op.DOWNSTREAM_PEER_URI_SAN: return conn.tls ? joinList(conn.peerUriSans) : undefined;
    case Op.DOWNSTREAM_LOCAL_URI_SAN: return conn.tls ? joinList(conn.localUriSans) : undefined;
    case Op.DOWNSTREAM_PEER_DNS_SAN: return conn.tls ? joinList(conn.peerDnsSans) : undefined;
    case Op.DOWNSTREAM_PEER_SUBJECT: return tlsField(conn, conn.peerSubject);
    case Op.DOWNSTREAM_LOCAL_SUBJECT: return tlsField(conn, conn.localSubject);
    case Op.DOWNSTREAM_PEER_ISSUER: return tlsField(conn, conn.peerIssuer);
    case Op.DOWNSTREAM_TLS_SESSION_ID: return tlsField(conn, conn.tlsSessionId);
    case Op.DOWNSTREAM_TLS_CIPHER: return tlsField(conn, conn.tlsCipher);
    case Op.DOWNSTREAM_TLS_VERSION: return tlsField(conn, conn.tlsVersion);
    case Op.DOWNSTREAM_PEER_FINGERPRINT_256: return tlsField(conn, conn.peerFingerprint256);
    case Op.DOWNSTREAM_PEER_SERIAL: return tlsField(conn, conn.peerSerial);
    case Op.GRPC_STATUS: return grpcText(c, info, req, resp, tr);
    case Op.DYNAMIC_METADATA: {
      const v = metadataValue(info, c.arg, c.keys);
      if (v === undefined || v === null) return undefined;
      return trunc(typeof v === 'string' ? v : JSON.stringify(v), c.maxLen);
    }
    case Op.FILTER_STATE: {
      const v = filterStateValue(info, c.arg);
      if (v === undefined) return undefined;
      let s: string | undefined;
      if (c.mode === FS_PLAIN) s = plainOf(v);
      else if (c.mode === FS_FIELD) s = fieldOf(v, c.alt);
      else { const t = typedOf(v); s = t === undefined ? undefined : JSON.stringify(t); }
      return s === undefined ? undefined : trunc(s, c.maxLen);
    }
    default: {
      const n = renderNumber(c, info, req, resp, tr);
      return n < 0 ? undefined : '' + n;
    }
  }
}

/** Typed JSON value of a command (json_format): numbers stay numbers, missing is null. */
export function renderValue(c: Command, info: Info, req: Headers | undefined, resp: Headers | undefined,
  tr: Headers | undefined): unknown {
  if (c.kind === K_NUM) {
    const n = renderNumber(c, info, req, resp, tr);
    return n < 0 ? null : n;
  }
  if (c.kind === K_JSON) {
    if (c.op === Op.DYNAMIC_METADATA) {
      const v = metadataValue(info, c.arg, c.keys);
      if (v === undefined || v === null) return null;
      return typeof v === 'string' ? trunc(v, c.maxLen) : v;
    }
    // FILTER_STATE, TYPED
    const t = typedOf(filterStateValue(info, c.arg));
    return t === undefined ? null : t;
  }
  const s = renderText(c, info, req, resp, tr);
  return s === undefined ? null : s;
}

// Locally generated responses (Envoy's Http::Utility::sendLocalReply / prepareLocalReply)
// and the HCM's local_reply_config (envoy.extensions.filters.network.http_connection_manager.v3.LocalReplyConfig).
//
// Envoy's shape of a local reply:
//  - plain HTTP: ':status', and when the body is non-empty 'content-type: text/plain' (or the
//    body_format's content type) and 'content-length'; an empty body has neither (the codec then
//    adds 'content-length: 0');
//  - gRPC requests (request content-type application/grpc*): a trailers-only response:
//    ':status: 200', 'content-type: application/grpc', 'grpc-status' (given, else mapped from the
//    HTTP status by Grpc::Utility::httpToGrpcStatus) and 'grpc-message' = the percent-encoded body.
import type { StreamInfo } from '../common/stream_info';
import { ConfigError, joinPath } from '../config/errors';
import type { Plain } from '../config/plain';
import { getHeader, type Headers } from './headers';

/** Grpc::Utility::httpToGrpcStatus. */
export function httpToGrpcStatus(code: number): number {
  switch (code) {
    case 400: return 13; // Internal
    case 401: return 16; // Unauthenticated
    case 403: return 7;  // PermissionDenied
    case 404: return 12; // Unimplemented
    case 429: case 502: case 503: case 504: return 14; // Unavailable
    default: return 2;   // Unknown
  }
}

/** Grpc::Common::hasGrpcContentType: application/grpc, application/grpc+..., application/grpc;... */
export function hasGrpcContentType(h: Headers | undefined): boolean {
  if (h === undefined) return false;
  const ct = getHeader(h, 'content-type');
  if (ct === undefined || !ct.startsWith('application/grpc')) return false;
  if (ct.length === 16) return true;
  const c = ct.charCodeAt(16);
  return c === 43 /* + */ || c === 59 /* ; */;
}

const HEX = '0123456789ABCDEF';

/**
 * gRPC's percent-encoding of grpc-message (Envoy's PercentEncoding::encode(value, "%")):
 * '%' and bytes outside 0x20..0x7E are %XX-encoded (UTF-8 bytes for non-ASCII).
 */
export function percentEncodeGrpcMessage(s: string): string {
  let i = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) break;
  }
  if (i === s.length) return s;
  const bytes = Buffer.from(s, 'utf8');
  let out = '';
  for (let j = 0; j < bytes.length; j++) {
    const b = bytes[j];
    if (b < 0x20 || b > 0x7e || b === 0x25) out += '%' + HEX[b >> 4] + HEX[b & 15];
    else out += String.fromCharCode(b);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// local_reply_config

/** What a body formatter needs (src/access_loggers Formatter). */
export interface BodyFormatter {
  format(info: StreamInfo, reqHeaders?: Headers, respHeaders?: Headers, respTrailers?: Headers): string;
  readonly contentType: string;
}

/** What a mapper filter needs (src/access_loggers AccessLogFilter). */
export interface ReplyFilter {
  evaluate(info: StreamInfo, req: Headers | undefined, resp: Headers | undefined, tr: Headers | undefined): boolean;
}

/** Response header mutations of a mapper (src/router HeaderMutations + applyHeaderMutations). */
export interface ReplyHeaderMutator {
  apply(resp: Headers, req: Headers | undefined, info: StreamInfo): void;
}

/** The mutable parts of a local reply while local_reply_config rewrites it. */
export interface LocalReplyState {
  code: number;
  body: string;
  contentType: string;
}

export class LocalReplyMapper {
  constructor(
    readonly filter: ReplyFilter,
    readonly statusCode: number | undefined,
    readonly body: string | undefined,
    readonly bodyFormat: BodyFormatter | undefined,
    readonly headers: ReplyHeaderMutator | undefined,
  ) {}
}

/** Compiled local_reply_config: mappers (first match wins) and a body_format. */
export class LocalReplyConfig {
  constructor(readonly mappers: readonly LocalReplyMapper[], readonly bodyFormat: BodyFormatter | undefined) {}

  /** Envoy's LocalReplyImpl::rewrite. `resp` already holds ':status'. */
  rewrite(req: Headers | undefined, resp: Headers, info: StreamInfo, st: LocalReplyState): void {
    resp[':status'] = String(st.code);
    info.responseCode = st.code;
    let formatter = this.bodyFormat;
    for (let i = 0; i < this.mappers.length; i++) {
      const m = this.mappers[i];
      if (!m.filter.evaluate(info, req, resp, undefined)) continue;
      if (m.body !== undefined) st.body = m.body;
      if (m.headers !== undefined) m.headers.apply(resp, req, info);
      if (m.statusCode !== undefined && m.statusCode !== st.code) {
        st.code = m.statusCode;
        resp[':status'] = String(st.code);
        info.responseCode = st.code;
      }
      if (m.bodyFormat !== undefined) formatter = m.bodyFormat;
      break;
    }
    if (formatter !== undefined) {
      (info as StreamInfo & { localReplyBody?: string }).localReplyBody = st.body;
      st.body = formatter.format(info, req, resp, undefined);
      st.contentType = formatter.contentType;
    }
  }
}

/** The pieces local_reply_config compilation borrows from other modules (kept injectable to avoid cycles). */
export interface LocalReplyCompileDeps {
  compileFilter(cfg: Plain, path: string): ReplyFilter;
  compileBodyFormat(cfg: Plain, path: string): BodyFormatter;
  compileHeaders(toAdd: Plain[], path: string): ReplyHeaderMutator;
  readDataSource(ds: Plain, path: string): string;
}

/** Compile a LocalReplyConfig (plain form). `path` is the local_reply_config field path. */
export function compileLocalReplyConfig(cfg: Plain, path: string, deps: LocalReplyCompileDeps): LocalReplyConfig | undefined {
  if (cfg === undefined || cfg === null) return undefined;
  const mappers: LocalReplyMapper[] = [];
  const list: Plain[] = cfg.mappers ?? [];
  for (let i = 0; i < list.length; i++) {
    const mp = `${joinPath(path, 'mappers')}[${i}]`;
    const m = list[i];
    if (!m || typeof m !== 'object' || m.filter === undefined || m.filter === null) {
      throw new ConfigError(joinPath(mp, 'filter'), 'value is required');
    }
    const filter = deps.compileFilter(m.filter, joinPath(mp, 'filter'));
    let status: number | undefined;
    if (m.status_code !== undefined && m.status_code !== null) {
      status = Number(m.status_code);
      if (!Number.isInteger(status) || status < 200 || status >= 600) {
        throw new ConfigError(joinPath(mp, 'status_code'), 'value must be inside range [200, 600)');
      }
    }
    const body = m.body !== undefined && m.body !== null ? deps.readDataSource(m.body, joinPath(mp, 'body')) : undefined;
    const bf = m.body_format_override ? deps.compileBodyFormat(m.body_format_override, joinPath(mp, 'body_format_override')) : undefined;
    const toAdd: Plain[] = m.headers_to_add ?? [];
    if (toAdd.length > 1000) throw new ConfigError(joinPath(mp, 'headers_to_add'), 'value must contain at most 1000 item(s)');
    const hm = toAdd.length > 0 ? deps.compileHeaders(toAdd, mp) : undefined;
    mappers.push(new LocalReplyMapper(filter, status, body, bf, hm));
  }
  const bodyFormat = cfg.body_format ? deps.compileBodyFormat(cfg.body_format, joinPath(path, 'body_format')) : undefined;
  if (mappers.length === 0 && bodyFormat === undefined) return undefined;
  return new LocalReplyConfig(mappers, bodyFormat);
}

// ---------------------------------------------------------------------------------------------
// Building the reply

/** A prepared local reply: headers (':status' first) and the body ('' = none). */
export interface PreparedLocalReply {
  headers: Headers;
  body: string;
}

/**
 * Build a local reply as Envoy's prepareLocalReply does.
 * `extra` headers are copied in first (lowercase names). Returns the headers and the body to send
 * ('' means a headers-only response).
 */
export function prepareLocalReply(
  config: LocalReplyConfig | undefined,
  req: Headers | undefined,
  info: StreamInfo,
  code: number,
  body: string,
  extra: Headers | undefined,
  isGrpc: boolean,
  isHead: boolean,
  grpcStatus: number | undefined,
): PreparedLocalReply {
  const headers: Headers = { ':status': String(code) };
  if (extra !== undefined) {
    for (const k in extra) {
      const v = extra[k];
      if (v !== undefined && k !== ':status') headers[k] = v;
    }
  }
  let contentType = 'text/plain';
  if (config !== undefined) {
    const st: LocalReplyState = { code, body, contentType };
    config.rewrite(req, headers, info, st);
    code = st.code;
    contentType = st.contentType;
    const changed = st.body !== body;
    body = st.body;
    if (changed && body !== '') headers['content-type'] = contentType;
  }
  info.responseCode = code;
  if (isGrpc) {
    headers[':status'] = '200';
    headers['content-type'] = 'application/grpc';
    if (headers['grpc-status'] === undefined) {
      headers['grpc-status'] = String(grpcStatus !== undefined ? grpcStatus : httpToGrpcStatus(code));
    }
    if (body !== '' && !isHead) {
      const msg = body.charCodeAt(body.length - 1) === 10 ? body.slice(0, -1) : body;
      headers['grpc-message'] = percentEncodeGrpcMessage(msg);
    }
    delete headers['content-length'];
    return { headers, body: '' };
  }
  if (body !== '') {
    headers['content-length'] = String(Buffer.byteLength(body));
    if (headers['content-type'] === undefined) headers['content-type'] = contentType;
  } else {
    delete headers['content-length'];
    delete headers['content-type'];
  }
  return { headers, body: isHead ? '' : body };
}

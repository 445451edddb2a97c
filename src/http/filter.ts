// The HTTP filter API, after Envoy's (include/envoy/http/filter.h), made synchronous:
// every method returns a numeric status; a filter that must wait returns a Stop
// status and later calls callbacks.continueDecoding()/continueEncoding().
// Filters are objects created once per stream by a factory compiled once per config.
//
// What the HCM (src/filters/network/http_connection_manager) guarantees to filters:
//  - request headers: lowercase names; ':method', ':authority' (never 'host'), ':scheme' and
//    ':path' (absent only for CONNECT) for both HTTP/1.1 and HTTP/2; repeated headers are one
//    comma-joined value (set-cookie an array); hop-by-hop headers removed (connection/upgrade
//    kept for allowed upgrades; 'te' reduced to "trailers"); x-forwarded-for/-proto,
//    x-request-id, x-envoy-internal etc. already set as Envoy's mutateRequestHeaders does;
//  - decodeHeaders endStream=true for a request without a body;
//  - response headers given to encodeHeaders must carry ':status' (a string); the HCM adds
//    'date' (if absent) and 'server', and removes connection-specific headers before the codec;
//  - a filter without decodeData/encodeData passes data through, except while it holds the
//    headers (StopIteration), when the data is buffered for it;
//  - route() returns src/router's RouteMatchResult (typed here as RouteMatchLike).
import type { Headers } from './headers';
import type { StreamInfo } from '../common/stream_info';
import type { RouteEntryLike, RouteMatchLike } from './route_api';

export const enum FilterHeadersStatus { Continue = 0, StopIteration = 1, StopAllIterationAndBuffer = 2 }
export const enum FilterDataStatus { Continue = 0, StopIterationAndBuffer = 1, StopIterationNoBuffer = 2 }
export const enum FilterTrailersStatus { Continue = 0, StopIteration = 1 }

export interface LocalReplyOptions {
  /** Envoy response flag bits (src/common/response_flags.ts) to set on the stream. */
  flags?: number;
  /** response_code_details, e.g. 'route_not_found'. */
  details?: string;
  /**
   * gRPC status for gRPC requests; default Envoy's Grpc::Utility::httpToGrpcStatus of the HTTP
   * status (400->13, 401->16, 403->7, 404->12, 429/502/503/504->14, anything else->2).
   */
  grpcStatus?: number;
  /** Extra response headers. */
  headers?: Headers;
}

export interface StreamFilterCallbacksBase {
  readonly streamInfo: StreamInfo;
  /** Stream id within the connection (for logs). */
  readonly streamId: number;
  /** The matched route, computed lazily and cached (cleared by clearRouteCache). */
  route(): RouteMatchLike | null;
  clearRouteCache(): void;
  /** Reset the stream both ways (no response if none was sent). */
  resetStream(): void;
  /** The route's merged per-filter config for this filter name (route > vhost > route config), or undefined. */
  perFilterConfig(filterName: string): unknown;
}

export interface StreamDecoderFilterCallbacks extends StreamFilterCallbacksBase {
  continueDecoding(): void;
  /** Send a locally generated response (filters after this one and the upstream never see the request). */
  sendLocalReply(status: number, body: string, opts?: LocalReplyOptions): void;
  /** For the terminal (router) filter: send the response downstream through the encoder filters. */
  encodeHeaders(headers: Headers, endStream: boolean): void;
  encodeData(data: Buffer, endStream: boolean): void;
  encodeTrailers(trailers: Headers): void;
  /**
   * Flow control (response direction): the downstream can't take more; the callbacks are told
   * onAboveWriteBufferHighWatermark / onBelowWriteBufferLowWatermark. A callback registered while
   * the downstream is already above the high watermark is told so at once (Envoy semantics).
   */
  addDownstreamWatermarkCallbacks(cb: DownstreamWatermarkCallbacks): void;
  removeDownstreamWatermarkCallbacks(cb: DownstreamWatermarkCallbacks): void;
  /**
   * Flow control (request direction): the upstream write buffer went above its high watermark;
   * the HCM stops reading the downstream request body (HTTP/1: pauses the socket; HTTP/2: stops
   * granting flow-control window) until onDecoderFilterBelowWriteBufferLowWatermark(). Calls nest
   * (a counter, as Envoy's readDisable).
   */
  onDecoderFilterAboveWriteBufferHighWatermark(): void;
  onDecoderFilterBelowWriteBufferLowWatermark(): void;
  /** The per-stream buffer limit (listener per_connection_buffer_limit_bytes): 413 above it when buffering. */
  decoderBufferLimit(): number;
  /** Buffered request body so far (StopIterationAndBuffer), or undefined. */
  decodingBuffer(): Buffer | undefined;
  /**
   * For the router: the upgrade the HCM allowed for this request ('websocket', lowercase), or ''
   * for a normal request. Only HTTP/1.1 Upgrade requests whose type is enabled by upgrade_configs
   * (HCM, overridden per route by the route's upgrade_configs) get a non-empty value; for those,
   * decodeHeaders gets endStream=false and no decodeData follows (the bytes after the request head
   * belong to the tunnel).
   */
  readonly upgradeType: string;
  /**
   * For upgrades (upgradeType !== ''), once the upstream answered 101: either call
   * encodeHeaders(<101 headers, with connection/upgrade>, false) first and then
   * upgradeTunnel(upstreamSocket, head), or pass the 101 headers as `responseHeaders` here
   * (they then run through the encoder filters). `head` = bytes the upstream already sent after its
   * 101 head (written downstream first). The HCM then pipes bytes both ways (half-close, stream
   * idle timeout) and ends the stream (access log) when both sides are closed. The router must not
   * touch `upstream` afterwards except through its own 'close' bookkeeping.
   * A non-101 upstream answer is a normal response: use encodeHeaders/encodeData (no tunnel).
   */
  upgradeTunnel?(upstream: import('node:net').Socket | import('node:stream').Duplex, head: Buffer,
    responseHeaders?: Headers): void;
}

export interface StreamEncoderFilterCallbacks extends StreamFilterCallbacksBase {
  continueEncoding(): void;
  sendLocalReply(status: number, body: string, opts?: LocalReplyOptions): void;
}

export interface DownstreamWatermarkCallbacks {
  onAboveWriteBufferHighWatermark(): void;
  onBelowWriteBufferLowWatermark(): void;
}

export interface StreamDecoderFilter {
  setDecoderFilterCallbacks(cb: StreamDecoderFilterCallbacks): void;
  decodeHeaders(headers: Headers, endStream: boolean): FilterHeadersStatus;
  decodeData?(data: Buffer, endStream: boolean): FilterDataStatus;
  decodeTrailers?(trailers: Headers): FilterTrailersStatus;
  /** Called once when the stream ends for any reason (complete, reset, local reply). */
  onDestroy?(): void;
}

export interface StreamEncoderFilter {
  setEncoderFilterCallbacks(cb: StreamEncoderFilterCallbacks): void;
  encodeHeaders(headers: Headers, endStream: boolean): FilterHeadersStatus;
  encodeData?(data: Buffer, endStream: boolean): FilterDataStatus;
  encodeTrailers?(trailers: Headers): FilterTrailersStatus;
  onDestroy?(): void;
}

/** A compiled HTTP filter config (the product of an 'http_filter' registry factory). */
export interface HttpFilterFactory {
  /** The filter's configured name (HttpFilter.name), used for per-route config lookup. */
  readonly name: string;
  /** True for the terminal filter (router). */
  readonly terminal?: boolean;
  /** Create the per-stream filter instance(s). Return a decoder, an encoder, or one object that is both. */
  createFilter(): Partial<StreamDecoderFilter & StreamEncoderFilter>;
}

/**
 * The 'http_filter' registry entry (src/common/registry.ts ExtensionFactory) as the HCM uses it.
 * `create(typed_config, ctx)` compiles the filter config once per HCM config; ctx carries the
 * server context plus:
 *   ctx.filterName  the HttpFilter.name (use it as HttpFilterFactory.name)
 *   ctx.statPrefix  'http.<hcm stat_prefix>.'   ctx.scope  the matching stats Scope
 * Optionally `createRouteSpecificFilterConfig` compiles a typed_per_filter_config entry of a route
 * once at route-config compile time; what it returns is what callbacks.perFilterConfig(name) hands
 * out. The entry is looked up by its own type URL (as Envoy does), so a filter whose per-route
 * proto differs from its config proto (e.g. RBACPerRoute) lists both in typeNames. Without it the
 * plain config object is handed out.
 */
export interface HttpFilterExtensionFactory {
  typeNames: string[];
  names?: string[];
  create(config: import('../config/plain').PlainAny, ctx: import('../common/registry').FactoryContext): HttpFilterFactory;
  createRouteSpecificFilterConfig?(config: import('../config/plain').PlainAny, ctx: import('../common/registry').FactoryContext): unknown;
  noop?: boolean;
}

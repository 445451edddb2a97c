// The HTTP filter API, after Envoy's (include/envoy/http/filter.h), made synchronous:
// every method returns a numeric status; a filter that must wait returns a Stop
// status and later calls callbacks.continueDecoding()/continueEncoding().
// Filters are objects created once per stream by a factory compiled once per config.
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
  /** gRPC status for gRPC requests; default mapped from the HTTP status (503->14, 504->4, 429->14, 404->12...). */
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
  /** Flow control: the downstream can't take more; stop reading upstream until onBelowWriteBufferLowWatermark. */
  addDownstreamWatermarkCallbacks(cb: DownstreamWatermarkCallbacks): void;
  /** Buffered request body so far (StopIterationAndBuffer), or undefined. */
  decodingBuffer(): Buffer | undefined;
  /** For the router: true when the request is an upgrade (WebSocket) the HCM allowed. */
  readonly upgradeType: string;
  /** For upgrades: hand the raw downstream socket (after the upstream answered 101). */
  upgradeTunnel?(upstream: import('node:net').Socket | import('node:stream').Duplex, head: Buffer): void;
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

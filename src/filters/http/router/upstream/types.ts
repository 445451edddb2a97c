// The router's view of one upstream attempt, independent of the wire protocol.
// A pool (h1_pool.ts: undici, h2_pool.ts: node:http2) creates one UpstreamStream
// per attempt and reports back through UpstreamCallbacks, passing the stream so
// the router can ignore callbacks from an attempt it already abandoned.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Headers } from '../../../../http/headers';

/** Envoy's Http::StreamResetReason, as far as remora's pools can tell them apart. */
export const enum ResetReason {
  /** Could not connect (refused, unreachable, connect timeout). Envoy: UF. */
  ConnectionFailure = 0,
  /** The connection closed under the stream (Envoy: UC). */
  ConnectionTermination = 1,
  /** remora reset the stream (timeouts, cancelled downstream). Envoy: LR. */
  LocalReset = 2,
  /** The upstream reset the stream (HTTP/2 RST_STREAM). Envoy: UR. */
  RemoteReset = 3,
  /** HTTP/2 RST_STREAM(REFUSED_STREAM) or a stream refused by GOAWAY. Envoy: UR; retriable by refused-stream. */
  RemoteRefusedStreamReset = 4,
  /** A circuit breaker refused the stream (max_requests / max_pending_requests). Envoy: UO. */
  Overflow = 5,
  /** The upstream broke the protocol (bad HTTP/1 framing, invalid headers). Envoy: UPE. */
  ProtocolError = 6,
  /** Connect timeout (Envoy treats it as a connection failure). */
  ConnectionTimeout = 7,
}

const RESET_REASON_STRINGS = [
  'connection failure', 'connection termination', 'local reset', 'remote reset',
  'remote refused stream reset', 'overflow', 'protocol error', 'connection timeout',
];

/** Envoy's Http::Utility::resetReasonToString. */
export function resetReasonToString(r: ResetReason): string {
  return RESET_REASON_STRINGS[r] ?? 'local reset';
}

/** What the router does for a stream; every call carries the stream it is about. */
export interface UpstreamCallbacks {
  /** The stream got a connection (Envoy onPoolReady). */
  onPoolReady(s: UpstreamStream): void;
  /** Final (non-1xx) response headers, ':status' included as a string. */
  onUpstreamHeaders(s: UpstreamStream, status: number, headers: Headers, endStream: boolean): void;
  onUpstreamData(s: UpstreamStream, data: Buffer, endStream: boolean): void;
  /** Response trailers; always the end of the response. */
  onUpstreamTrailers(s: UpstreamStream, trailers: Headers): void;
  /** The stream failed before completing. Never called after a local reset(). */
  onUpstreamReset(s: UpstreamStream, reason: ResetReason, transportFailureReason: string): void;
  /** HTTP/1.1 upgrade accepted (101): the raw upstream socket, already past the response head. */
  onUpstreamUpgrade(s: UpstreamStream, status: number, headers: Headers, socket: Socket | Duplex): void;
  /** Request-body flow control: true = the upstream cannot take more now; false = it drained. */
  onUpstreamWriteWatermark(s: UpstreamStream, above: boolean): void;
}

export interface UpstreamStream {
  /** Send request body. Once `end` is true (or writeTrailers was called) no more writes. */
  writeData(data: Buffer, end: boolean): void;
  /** Send request trailers (HTTP/2); HTTP/1.1 upstreams end the body and drop them. */
  writeTrailers(trailers: Headers): void;
  /** Downstream flow control: stop / restart reading the response body. */
  pauseResponse(): void;
  resumeResponse(): void;
  /** Reset the stream locally. No callback follows. Idempotent. */
  reset(): void;
  /** 'HTTP/1.1' | 'HTTP/2' */
  readonly protocol: string;
  /** The upstream connection's local 'ip:port' once known (for %UPSTREAM_LOCAL_ADDRESS%). */
  localAddress(): string;
  /** Request bytes written to the upstream (body, approximate for HTTP/1.1 headers). */
  readonly bytesSent: number;
  readonly bytesReceived: number;
}

/** What the router hands a pool to start a stream. The header containers are built by the pool. */
export interface UpstreamRequestSpec {
  /** The (already rewritten and mutated) request headers, pseudo headers included. */
  headers: Headers;
  /** True when the request has no body (or it is complete in `body`). */
  endStream: boolean;
  /** A complete body known at start (buffered request), or undefined. */
  body: Buffer | undefined;
  /** Request trailers known at start (buffered request), or undefined. */
  trailers: Headers | undefined;
  /** 'websocket' for an HTTP/1.1 upgrade, '' otherwise. */
  upgrade: string;
}

export const EMPTY_BUFFER: Buffer = Buffer.alloc(0);

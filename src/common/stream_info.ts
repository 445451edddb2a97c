// Per-request (HTTP) or per-connection (TCP) facts that access logs, header
// formatters and stats read. One plain object per stream; fields are mutated
// in place by the filters that learn them.
import type { Headers } from '../http/headers';

export interface UpstreamHostInfo {
  /** "ip:port" */
  address: string;
  hostname?: string;
}

export interface ConnectionInfo {
  id: number;
  remoteAddress: string;      // as seen after proxy_protocol/original_src adjustments
  remotePort: number;
  directRemoteAddress: string; // the socket peer
  directRemotePort: number;
  localAddress: string;       // after original_dst restoration
  localPort: number;
  sni: string;                // '' when none
  alpn: string[];             // offered by the client (tls_inspector / TLS)
  transportProtocol: string;  // 'raw_buffer' | 'tls'
  tls: boolean;
  listenerName: string;
  filterChainName: string;
  /** Peer certificate URI SANs, when mTLS. */
  peerUriSans?: string[];
}

export class StreamInfo {
  startTime = Date.now();          // ms epoch
  startHr = process.hrtime.bigint(); // for durations
  /** ns since startHr; set when the stream ends. */
  endNs = -1;
  firstUpstreamTxNs = -1;
  firstUpstreamRxNs = -1;
  lastDownstreamTxNs = -1;
  responseFlags = 0;
  responseCode = 0;
  responseCodeDetails = '';
  connectionTerminationDetails = '';
  protocol = '';                   // 'HTTP/1.1' | 'HTTP/2' | ''
  bytesReceived = 0;
  bytesSent = 0;
  upstreamBytesSent = 0;
  upstreamBytesReceived = 0;
  upstreamHost: UpstreamHostInfo | undefined = undefined;
  upstreamCluster = '';
  upstreamLocalAddress = '';
  upstreamTransportFailureReason = '';
  routeName = '';
  virtualClusterName = '';
  requestId = '';
  attemptCount = 0;
  requestHeaders: Headers | undefined = undefined;
  responseHeaders: Headers | undefined = undefined;
  responseTrailers: Headers | undefined = undefined;
  /** Per-stream string data shared between filters (Envoy filter state). */
  filterState: Map<string, unknown> | undefined = undefined;
  /** Dynamic metadata: filter name -> JSON. */
  dynamicMetadata: Record<string, Record<string, unknown>> | undefined = undefined;
  constructor(readonly connection: ConnectionInfo) {}
  setFlag(flag: number): void { this.responseFlags |= flag; }
  /** ms since start, or -1 if the mark was never reached. */
  msSince(ns: number): number { return ns < 0 ? -1 : ns / 1e6; }
  markEnd(): void { if (this.endNs < 0) this.endNs = Number(process.hrtime.bigint() - this.startHr); }
  nowNs(): number { return Number(process.hrtime.bigint() - this.startHr); }
}

// Network filter API. A filter chain is [non-terminal filters..., terminal filter].
// Non-terminal filters (rbac, local_ratelimit, ...) see the new connection and may
// close it; the terminal filter (http_connection_manager, tcp_proxy, ...) takes the
// socket over. Filters are objects; factories are compiled once per config.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ConnectionInfo, StreamInfo } from '../common/stream_info';

export const enum NetworkFilterStatus { Continue = 0, StopIteration = 1 }

/** A downstream connection as the filters see it. */
export interface DownstreamConnection {
  /** A net.Socket, or a tls.TLSSocket after TLS termination. */
  readonly socket: Socket | Duplex;
  readonly info: ConnectionInfo;
  /** Connection-level stream info (for tcp_proxy access logs). */
  readonly streamInfo: StreamInfo;
  /** Bytes already read from the socket by listener filters that must be replayed first. */
  readonly initialData: Buffer | undefined;
  /** Close the connection (flush first when 'flush'). */
  close(mode?: 'flush' | 'reset'): void;
  /** Called by the terminal filter or filter chain when the connection is done. */
  onClose(cb: () => void): void;
  /** Resume a chain paused by StopIteration. */
  continueReading(): void;
  /** The listener's drain state: true once the listener is draining (HCM sends Connection: close / GOAWAY). */
  draining(): boolean;
  onDrain(cb: () => void): void;
  /** per_connection_buffer_limit_bytes of the listener (default 1 MiB). */
  readonly bufferLimitBytes: number;
}

export interface NetworkFilter {
  /** Return StopIteration to pause the chain (then call conn.continueReading()). */
  onNewConnection(conn: DownstreamConnection): NetworkFilterStatus;
}

export interface TerminalNetworkFilter {
  /** Take the connection over. */
  handleConnection(conn: DownstreamConnection): void;
}

/** The product of a 'network_filter' registry factory. */
export interface NetworkFilterFactory {
  readonly name: string;
  readonly terminal: boolean;
  createFilter(): NetworkFilter | TerminalNetworkFilter;
  /** Called when the config that owns this factory is replaced/removed (close pools etc.). */
  destroy?(): void;
}

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
  /**
   * A net.Socket, or a tls.TLSSocket after TLS termination. It may be paused (listener
   * filters read from it): a terminal filter attaches its 'data' listener, then calls resume().
   * allowHalfOpen is false unless the terminal filter sets it (tcp_proxy does).
   */
  readonly socket: Socket | Duplex;
  readonly info: ConnectionInfo;
  /** Connection-level stream info (for tcp_proxy access logs). */
  readonly streamInfo: StreamInfo;
  /** Bytes already read from the socket by listener filters that must be replayed first. */
  readonly initialData: Buffer | undefined;
  /**
   * Close the connection. 'flush' (default, Envoy FlushWrite): send what is buffered, then close.
   * 'noflush' (Envoy NoFlush): close now, dropping buffered writes. 'reset' (Envoy AbortReset): send a TCP RST.
   */
  close(mode?: 'flush' | 'noflush' | 'reset'): void;
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

// ---- Listener filters (run on the raw accepted socket, before filter chain matching) ----

export const enum ListenerFilterStatus { Continue = 0, StopIteration = 1 }

/** What a listener filter sees while a new socket is inspected. */
export interface ListenerFilterCallbacks {
  readonly socket: Socket;
  /**
   * Mutable connection facts: tls_inspector sets sni/alpn/transportProtocol,
   * original_dst sets localAddress/localPort, proxy_protocol sets remoteAddress/remotePort.
   */
  readonly info: ConnectionInfo;
  readonly streamInfo: StreamInfo;
  /** Resume after onAccept returned StopIteration with maxReadBytes 0. false closes the socket. */
  continueFilterChain(success: boolean): void;
}

export interface ListenerFilter {
  /** Bytes this filter needs to inspect (0: none; it decides in onAccept or calls continueFilterChain). */
  readonly maxReadBytes: number;
  onAccept(cb: ListenerFilterCallbacks): ListenerFilterStatus;
  /**
   * Everything read from the socket so far (at most maxReadBytes), called after onAccept
   * returned StopIteration, each time more arrives. Return Continue once decided.
   * The bytes are replayed to the network filters as DownstreamConnection.initialData.
   */
  onData?(data: Buffer): ListenerFilterStatus;
  /** The peer closed the socket while this filter waited. */
  onClose?(): void;
}

/** The product of a 'listener_filter' registry factory. */
export interface ListenerFilterFactory {
  readonly name: string;
  createFilter(): ListenerFilter;
  destroy?(): void;
}

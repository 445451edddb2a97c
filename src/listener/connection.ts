// A downstream connection accepted by a listener: the DownstreamConnection the
// network filters see, plus the driver that runs the filter chain
// [non-terminal filters..., terminal filter] over it.
//
// Socket events are handled by module-level functions that find the connection
// through a symbol on the socket (no per-connection closures).
import type { Socket } from 'node:net';
import type { ConnectionInfo, StreamInfo } from '../common/stream_info';
import type { Logger } from '../server/context';
import {
  DownstreamConnection, NetworkFilter, NetworkFilterFactory, NetworkFilterStatus, TerminalNetworkFilter,
} from './types';

export const kConnection = Symbol('remora.downstreamConnection');

/** Who gets told when a connection ends (the listener / filter chain bookkeeping). */
export interface ConnectionOwner {
  onConnectionClosed(conn: ActiveConnection): void;
}

type AnyFilter = NetworkFilter | TerminalNetworkFilter;

export class ActiveConnection implements DownstreamConnection {
  readonly socket: Socket;
  readonly info: ConnectionInfo;
  readonly streamInfo: StreamInfo;
  readonly initialData: Buffer | undefined;
  readonly bufferLimitBytes: number;
  /** The compiled filter chain this connection runs (owner-defined object). */
  readonly chain: unknown;
  closed = false;
  /** true once close() was called by remora (vs. the peer closing). */
  localClose = false;
  private isDraining = false;
  private closeCbs: Array<() => void> | undefined;
  private drainCbs: Array<() => void> | undefined;
  private filters: AnyFilter[] = [];
  private factories: ReadonlyArray<NetworkFilterFactory> = [];
  private next = 0;

  constructor(
    socket: Socket,
    info: ConnectionInfo,
    streamInfo: StreamInfo,
    initialData: Buffer | undefined,
    bufferLimitBytes: number,
    chain: unknown,
    private readonly owner: ConnectionOwner,
    private readonly log: Logger,
  ) {
    this.socket = socket;
    this.info = info;
    this.streamInfo = streamInfo;
    this.initialData = initialData && initialData.length ? initialData : undefined;
    this.bufferLimitBytes = bufferLimitBytes;
    this.chain = chain;
    (socket as Socket & { [kConnection]?: ActiveConnection })[kConnection] = this;
    socket.on('close', onSocketClose);
    if (socket.destroyed) queueMicrotask(() => this.onSocketClosed());
  }

  /** Create the filter instances and run them. An empty chain closes the connection (Envoy: "no filters"). */
  start(factories: ReadonlyArray<NetworkFilterFactory>): void {
    this.factories = factories;
    if (factories.length === 0) {
      this.log.debug(`[C${this.info.id}] closing connection from ${this.info.remoteAddress}:${this.info.remotePort}: no filters`);
      this.close('noflush');
      return;
    }
    try {
      this.filters = factories.map((f) => f.createFilter());
    } catch (e) {
      this.log.error(`[C${this.info.id}] network filter creation failed: ${(e as Error).message}`);
      this.close('reset');
      return;
    }
    this.runFilters();
  }

  private runFilters(): void {
    while (this.next < this.filters.length && !this.closed) {
      const i = this.next++;
      const f = this.filters[i];
      try {
        if (this.factories[i].terminal) {
          (f as TerminalNetworkFilter).handleConnection(this);
          return;
        }
        if ((f as NetworkFilter).onNewConnection(this) === NetworkFilterStatus.StopIteration) return;
      } catch (e) {
        this.log.error(`[C${this.info.id}] network filter ${this.factories[i].name} failed: ${(e as Error).stack ?? e}`);
        this.close('reset');
        return;
      }
    }
  }

  continueReading(): void {
    if (this.closed) return;
    this.runFilters();
  }

  close(mode: 'flush' | 'noflush' | 'reset' = 'flush'): void {
    const s = this.socket;
    if (this.closed || s.destroyed) return;
    this.localClose = true;
    if (mode === 'reset') {
      if (typeof s.resetAndDestroy === 'function' && !s.connecting) s.resetAndDestroy(); else s.destroy();
      return;
    }
    if (mode === 'noflush') { s.destroy(); return; }
    closeFlush(s);
  }

  onClose(cb: () => void): void {
    if (this.closed) { queueMicrotask(cb); return; }
    (this.closeCbs ??= []).push(cb);
  }

  draining(): boolean { return this.isDraining; }

  onDrain(cb: () => void): void {
    if (this.isDraining) { queueMicrotask(cb); return; }
    (this.drainCbs ??= []).push(cb);
  }

  /** Mark draining and tell the filters (Connection: close / GOAWAY in HCM). */
  startDrain(): void {
    if (this.isDraining || this.closed) return;
    this.isDraining = true;
    const cbs = this.drainCbs;
    this.drainCbs = undefined;
    if (cbs) for (const cb of cbs) safeCall(cb, this.log, this.info.id);
  }

  /** @internal socket 'close' */
  onSocketClosed(): void {
    if (this.closed) return;
    this.closed = true;
    // Byte counts on streamInfo are what the terminal filter accounted (tcp_proxy counts
    // what it relayed, like Envoy), not socket totals.
    this.streamInfo.markEnd();
    const cbs = this.closeCbs;
    this.closeCbs = undefined;
    this.drainCbs = undefined;
    if (cbs) for (const cb of cbs) safeCall(cb, this.log, this.info.id);
    this.owner.onConnectionClosed(this);
  }
}

function safeCall(cb: () => void, log: Logger, id: number): void {
  try { cb(); } catch (e) { log.error(`[C${id}] connection callback failed: ${(e as Error).stack ?? e}`); }
}

function onSocketClose(this: Socket): void {
  const c = (this as Socket & { [kConnection]?: ActiveConnection })[kConnection];
  if (c) c.onSocketClosed();
}

function destroyAfterFinish(this: Socket): void { this.destroy(); }

/**
 * Envoy's close(FlushWrite): send what is buffered, then close. The socket is
 * destroyed once its write side finished (or at once when nothing is pending).
 */
export function closeFlush(s: Socket): void {
  if (s.destroyed) return;
  if (s.writableFinished || !s.writable && !s.writableEnded) { s.destroy(); return; }
  if (!s.writableEnded) {
    if (s.writableLength === 0 && !s.connecting) { s.destroy(); return; }
    s.end();
  }
  s.once('finish', destroyAfterFinish);
}

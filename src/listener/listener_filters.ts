// Runs a listener's listener_filters over a freshly accepted socket, before the
// filter chain is matched. Filters that need bytes (tls_inspector, http_inspector,
// proxy_protocol) get everything read so far; those bytes are handed on as the
// connection's initialData, since Node cannot MSG_PEEK.
import type { Socket } from 'node:net';
import type { ConnectionInfo, StreamInfo } from '../common/stream_info';
import type { Plain } from '../config/plain';
import type { Counter, Gauge } from '../stats/stats';
import type { Logger } from '../server/context';
import {
  ListenerFilter, ListenerFilterCallbacks, ListenerFilterFactory, ListenerFilterStatus,
} from './types';

/** A compiled listener_filters[i]: the factory plus its filter_disabled predicate. */
export interface CompiledListenerFilter {
  factory: ListenerFilterFactory;
  /** true = skip this filter for the connection. */
  disabled: ((info: ConnectionInfo) => boolean) | undefined;
}

export interface ListenerFilterStats {
  downstream_pre_cx_active: Gauge;
  downstream_pre_cx_timeout: Counter;
  downstream_listener_filter_remote_close: Counter;
  downstream_listener_filter_error: Counter;
}

/** Called once: proceed (with the bytes read) or the socket was closed. */
export type ListenerFiltersDone = (socket: Socket, info: ConnectionInfo, si: StreamInfo, initialData: Buffer | undefined) => void;

const kRun = Symbol('remora.listenerFilterRun');

export class ListenerFilterRun implements ListenerFilterCallbacks {
  private readonly filters: ListenerFilter[] = [];
  private index = 0;
  private accepted = false;
  private finished = false;
  private reading = false;
  private buffer: Buffer = Buffer.alloc(0);
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly socket: Socket,
    readonly info: ConnectionInfo,
    readonly streamInfo: StreamInfo,
    compiled: ReadonlyArray<CompiledListenerFilter>,
    private readonly timeoutMs: number,
    private readonly continueOnTimeout: boolean,
    private readonly stats: ListenerFilterStats,
    private readonly log: Logger,
    private readonly done: ListenerFiltersDone,
  ) {
    for (const c of compiled) {
      if (c.disabled && c.disabled(info)) continue;
      this.filters.push(c.factory.createFilter());
    }
  }

  start(): void {
    if (this.filters.length === 0) { this.finish(); return; }
    (this.socket as Socket & { [kRun]?: ListenerFilterRun })[kRun] = this;
    this.stats.downstream_pre_cx_active.inc();
    this.socket.on('close', lfOnClose);
    if (this.timeoutMs > 0) {
      this.timer = setTimeout(lfOnTimeout, this.timeoutMs, this);
    }
    this.step();
  }

  continueFilterChain(success: boolean): void {
    if (this.finished) return;
    if (!success) { this.fail(); return; }
    this.index++;
    this.accepted = false;
    this.step();
  }

  private step(): void {
    try {
      while (!this.finished && this.index < this.filters.length) {
        const f = this.filters[this.index];
        if (this.accepted) return; // waiting for data or continueFilterChain
        this.accepted = true;
        const idx = this.index;
        const st = f.onAccept(this);
        // continueFilterChain() ran inside onAccept: the nested step() already moved on.
        if (this.finished || this.index !== idx) return;
        if (st === ListenerFilterStatus.Continue) {
          this.index++;
          this.accepted = false;
          continue;
        }
        if (f.maxReadBytes > 0) {
          if (this.buffer.length > 0 && this.offer(f)) continue;
          this.startReading();
        }
        return;
      }
    } catch (e) {
      this.log.error(`listener filter failed: ${(e as Error).stack ?? e}`);
      this.fail();
      return;
    }
    if (!this.finished) this.finish();
  }

  /** Feed the buffered bytes to f; true when it decided (and the run advanced). */
  private offer(f: ListenerFilter): boolean {
    const view = this.buffer.length > f.maxReadBytes ? this.buffer.subarray(0, f.maxReadBytes) : this.buffer;
    if (f.onData && f.onData(view) === ListenerFilterStatus.Continue) {
      this.index++;
      this.accepted = false;
      return true;
    }
    return false;
  }

  private startReading(): void {
    if (this.reading) return;
    this.reading = true;
    this.socket.on('data', lfOnData);
    this.socket.on('end', lfOnEnd);
    this.socket.resume();
  }

  /** @internal */
  onData(chunk: Buffer): void {
    if (this.finished) return;
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    const f = this.filters[this.index];
    if (!f || !this.accepted) return;
    try {
      if (this.offer(f)) this.step();
    } catch (e) {
      this.log.error(`listener filter failed: ${(e as Error).stack ?? e}`);
      this.fail();
    }
  }

  /** @internal peer closed while inspecting */
  onRemoteClose(): void {
    if (this.finished) return;
    this.stats.downstream_listener_filter_remote_close.inc();
    const f = this.filters[this.index];
    try { f?.onClose?.(); } catch { /* closing anyway */ }
    this.cleanup();
    this.socket.destroy();
  }

  /** @internal */
  onTimeout(): void {
    this.timer = undefined;
    if (this.finished) return;
    this.stats.downstream_pre_cx_timeout.inc();
    if (this.continueOnTimeout) { this.finish(); return; }
    this.cleanup();
    this.socket.destroy();
  }

  private fail(): void {
    if (this.finished) return;
    this.stats.downstream_listener_filter_error.inc();
    this.cleanup();
    this.socket.destroy();
  }

  private cleanup(): void {
    this.finished = true;
    if (this.timer) { clearTimeout(this.timer); this.timer = undefined; }
    const s = this.socket;
    s.off('close', lfOnClose);
    if (this.reading) {
      s.off('data', lfOnData);
      s.off('end', lfOnEnd);
      s.pause();
    }
    if (this.filters.length) this.stats.downstream_pre_cx_active.dec();
    (s as Socket & { [kRun]?: ListenerFilterRun })[kRun] = undefined;
  }

  private finish(): void {
    this.cleanup();
    if (this.socket.destroyed) return;
    this.done(this.socket, this.info, this.streamInfo, this.buffer.length ? this.buffer : undefined);
  }
}

function runOf(s: Socket): ListenerFilterRun | undefined {
  return (s as Socket & { [kRun]?: ListenerFilterRun })[kRun];
}
function lfOnData(this: Socket, chunk: Buffer): void { runOf(this)?.onData(chunk); }
function lfOnEnd(this: Socket): void { runOf(this)?.onRemoteClose(); }
function lfOnClose(this: Socket): void { runOf(this)?.onRemoteClose(); }
function lfOnTimeout(run: ListenerFilterRun): void { run.onTimeout(); }

/**
 * Compile a ListenerFilterChainMatchPredicate (filter_disabled) into a function of
 * the connection. Throws Error on an empty/unknown rule.
 */
export function compileMatchPredicate(p: Plain, path: string): (info: ConnectionInfo) => boolean {
  if (p.any_match !== undefined) { const v = !!p.any_match; return () => v; }
  if (p.destination_port_range !== undefined) {
    const start = p.destination_port_range.start ?? 0, end = p.destination_port_range.end ?? 0;
    return (info) => info.localPort >= start && info.localPort < end;
  }
  if (p.not_match !== undefined) {
    const inner = compileMatchPredicate(p.not_match, path + '.not_match');
    return (info) => !inner(info);
  }
  if (p.and_match !== undefined || p.or_match !== undefined) {
    const isAnd = p.and_match !== undefined;
    const set = (isAnd ? p.and_match : p.or_match) ?? {};
    const rules = ((set.rules ?? []) as Plain[]).map((r, i) => compileMatchPredicate(r, `${path}.${isAnd ? 'and_match' : 'or_match'}.rules[${i}]`));
    return isAnd ? (info) => rules.every((r) => r(info)) : (info) => rules.some((r) => r(info));
  }
  throw new Error(`${path}: a match rule is required`);
}

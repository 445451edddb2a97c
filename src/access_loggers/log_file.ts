// Buffered, asynchronous access log files (Envoy's AccessLogManager / AccessLogFileImpl).
//
// One AccessLogFile per path, shared by every logger that writes there. log lines
// are appended to an in-memory buffer; the buffer is written with one async
// fs.write when it reaches the flush size or when the flush timer fires, never
// synchronously per request. At most one write is in flight per file; lines
// logged meanwhile wait for the next write. /dev/stdout and /dev/stderr use
// fds 1 and 2 directly.
//
// Stats (Envoy's filesystem.*): write_buffered, write_completed, write_failed,
// flushed_by_timer, reopen_failed, write_total_buffered (gauge).
import * as fs from 'node:fs';
import { ConfigError } from '../config/errors';
import { rootStore, type Counter, type Gauge, type Store } from '../stats/stats';
import { createLogger } from '../common/log';

const log = createLogger('file');

/** Defaults: flush every second, or as soon as 64 KiB are buffered (Envoy's min flush size). */
let flushIntervalMs = 1000;
let flushBytes = 64 * 1024;
/** Retry delay when a non-blocking stdout/stderr pipe is full. */
const EAGAIN_RETRY_MS = 20;
/** Give up on a chunk after this many EAGAIN retries (bounded: ~5 s). */
const EAGAIN_MAX_RETRIES = 250;
/** Lines are dropped (and counted as write_failed) while this much is already buffered. */
const MAX_BUFFERED = 16 * 1024 * 1024;

interface FsStats {
  writeBuffered: Counter;
  writeCompleted: Counter;
  writeFailed: Counter;
  flushedByTimer: Counter;
  reopenFailed: Counter;
  totalBuffered: Gauge;
}

let stats: FsStats | undefined;
function fsStats(store?: Store): FsStats {
  if (!stats) {
    const s = store ?? rootStore;
    stats = {
      writeBuffered: s.counter('filesystem.write_buffered'),
      writeCompleted: s.counter('filesystem.write_completed'),
      writeFailed: s.counter('filesystem.write_failed'),
      flushedByTimer: s.counter('filesystem.flushed_by_timer'),
      reopenFailed: s.counter('filesystem.reopen_failed'),
      totalBuffered: s.gauge('filesystem.write_total_buffered', 'NeverImport'),
    };
  }
  return stats;
}

/**
 * Set the flush interval (bootstrap file_flush_interval / --file-flush-interval-msec) and the
 * buffered size that forces a flush. Affects files opened afterwards and running timers at their next tick.
 */
export function configureAccessLogFlush(opts: { intervalMs?: number; minFlushBytes?: number }): void {
  if (opts.intervalMs !== undefined && opts.intervalMs > 0) flushIntervalMs = opts.intervalMs;
  if (opts.minFlushBytes !== undefined && opts.minFlushBytes > 0) flushBytes = opts.minFlushBytes;
}

/** Resolve the filesystem.* stats against the server's store (call once at startup; default: rootStore). */
export function bindAccessLogStats(store: Store): void {
  if (!stats) fsStats(store);
}

export class AccessLogFile {
  private fd: number;
  private readonly owned: boolean; // false for fds 1/2
  private pending: string[] = [];
  private pendingBytes = 0;
  private writing = false;
  private retries = 0;
  private inflight: Buffer | undefined;
  private inflightOff = 0;
  private timer: NodeJS.Timeout | undefined;
  private waiters: Array<() => void> = [];
  private reopenRequested = false;
  private readonly st: FsStats;
  // Bound once: the fs.write callback and timer handlers (no per-request closures).
  private readonly onWrittenCb: (err: NodeJS.ErrnoException | null, n: number) => void;
  private readonly onTimerCb: () => void;
  private readonly retryCb: () => void;

  constructor(readonly path: string, fd: number, owned: boolean) {
    this.fd = fd;
    this.owned = owned;
    this.st = fsStats();
    this.onWrittenCb = (err, n) => this.onWritten(err, n);
    this.onTimerCb = () => this.onTimer();
    this.retryCb = () => this.writeInflight();
  }

  /** Append one already-formatted line (no newline is added). */
  write(data: string): void {
    if (data.length === 0) return;
    if (this.pendingBytes >= MAX_BUFFERED) { this.st.writeFailed.value++; return; }
    this.pending.push(data);
    this.pendingBytes += data.length;
    this.st.writeBuffered.value++;
    this.st.totalBuffered.add(data.length);
    if (this.pendingBytes >= flushBytes) this.flush();
    else if (this.timer === undefined) this.armTimer();
  }

  /** Bytes (approximately: UTF-16 units) waiting to be written. */
  get buffered(): number { return this.pendingBytes + (this.inflight ? this.inflight.length - this.inflightOff : 0); }

  /** Start writing what is buffered now. */
  flush(): void {
    if (this.writing || this.pending.length === 0) return;
    const data = this.pending.length === 1 ? this.pending[0] : this.pending.join('');
    this.st.totalBuffered.sub(this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    this.inflight = Buffer.from(data, 'utf8');
    this.inflightOff = 0;
    this.retries = 0;
    this.writing = true;
    this.writeInflight();
  }

  /** Resolves once everything buffered before the call (and since) has been written or dropped. */
  drain(): Promise<void> {
    if (!this.writing && this.pending.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.waiters.push(resolve);
      this.flush();
    });
  }

  /** Reopen the file after the current write (log rotation, Envoy's /reopen_logs). */
  reopen(): void {
    if (!this.owned) return;
    if (this.writing) { this.reopenRequested = true; return; }
    this.doReopen();
  }

  private doReopen(): void {
    this.reopenRequested = false;
    try {
      const fd = fs.openSync(this.path, 'a');
      const old = this.fd;
      this.fd = fd;
      fs.close(old, () => { /* ignore */ });
    } catch (e) {
      this.st.reopenFailed.value++;
      log.error(`unable to reopen access log file ${this.path}: ${(e as Error).message}`);
    }
  }

  private armTimer(): void {
    this.timer = setTimeout(this.onTimerCb, flushIntervalMs);
    this.timer.unref();
  }

  private onTimer(): void {
    this.timer = undefined;
    if (this.pending.length === 0) return;
    this.st.flushedByTimer.value++;
    this.flush();
    // Lines that arrive while this write is in flight are flushed by onWritten or the next timer.
    if (this.writing && this.timer === undefined) this.armTimer();
  }

  private writeInflight(): void {
    const b = this.inflight!;
    fs.write(this.fd, b, this.inflightOff, b.length - this.inflightOff, null, this.onWrittenCb);
  }

  private onWritten(err: NodeJS.ErrnoException | null, n: number): void {
    const b = this.inflight!;
    if (err) {
      if (err.code === 'EAGAIN' && this.retries < EAGAIN_MAX_RETRIES) {
        this.retries++;
        setTimeout(this.retryCb, EAGAIN_RETRY_MS).unref();
        return;
      }
      this.st.writeFailed.value++;
      log.error(`access log write to ${this.path} failed: ${err.message}`);
      this.finishWrite();
      return;
    }
    this.inflightOff += n;
    if (this.inflightOff < b.length) { this.writeInflight(); return; }
    this.st.writeCompleted.value++;
    this.finishWrite();
  }

  private finishWrite(): void {
    this.inflight = undefined;
    this.inflightOff = 0;
    this.writing = false;
    if (this.reopenRequested) this.doReopen();
    if (this.pending.length > 0 && (this.waiters.length > 0 || this.pendingBytes >= flushBytes)) {
      this.flush();
      return;
    }
    if (this.pending.length > 0) {
      if (this.timer === undefined) this.armTimer();
      return;
    }
    if (this.waiters.length > 0) {
      const w = this.waiters;
      this.waiters = [];
      for (const r of w) r();
    }
  }
}

const files = new Map<string, AccessLogFile>();

/**
 * The shared AccessLogFile for a path, opened (append, created if missing) on first use.
 * Throws ConfigError (with `fieldPath`) when the file cannot be opened, as Envoy rejects the config.
 */
export function accessLogFile(path: string, fieldPath: string): AccessLogFile {
  let f = files.get(path);
  if (f) return f;
  if (path === '/dev/stdout') f = new AccessLogFile(path, 1, false);
  else if (path === '/dev/stderr') f = new AccessLogFile(path, 2, false);
  else {
    let fd: number;
    try {
      fd = fs.openSync(path, 'a');
    } catch (e) {
      throw new ConfigError(fieldPath, `unable to open access log file "${path}": ${(e as Error).message}`);
    }
    f = new AccessLogFile(path, fd, true);
  }
  files.set(path, f);
  return f;
}

/** Write out every buffered access log line (SIGTERM drain, hot restart, tests). */
export async function flushAllAccessLogs(): Promise<void> {
  await Promise.all([...files.values()].map((f) => f.drain()));
}

// Safety net: write out what is still buffered when the event loop runs dry
// (a normal exit without an explicit flush). beforeExit fires again after the
// write completes; by then nothing is pending, so this does not loop.
process.on('beforeExit', () => {
  for (const f of files.values()) f.flush();
});

/** Reopen every access log file (Envoy's admin /reopen_logs, SIGUSR1). */
export function reopenAccessLogs(): void {
  for (const f of files.values()) f.reopen();
}

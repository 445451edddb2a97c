// Shared test helpers for listener and network filter tests: small test-only
// network/listener filters registered under test type URLs, a silent context,
// and bounded socket helpers.
import * as net from 'node:net';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { register } from '../../src/common/registry';
import { Store } from '../../src/stats/stats';
import type { Logger } from '../../src/server/context';
import type { ClusterManager } from '../../src/cluster/types';
import type { ConnectionInfo } from '../../src/common/stream_info';
import {
  DownstreamConnection, ListenerFilter, ListenerFilterCallbacks, ListenerFilterFactory, ListenerFilterStatus,
  NetworkFilter, NetworkFilterFactory, NetworkFilterStatus, TerminalNetworkFilter,
} from '../../src/listener/types';
import type { ListenerContext } from '../../src/listener/listener';
import { flushAllAccessLogs } from '../../src/access_loggers';

export const ECHO = 'type.googleapis.com/remora.test.Echo';
export const GATE = 'type.googleapis.com/remora.test.Gate';
export const PEEK = 'type.googleapis.com/remora.test.Peek';
export const NOOP = 'type.googleapis.com/remora.test.Noop';

export const silentLog: Logger = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, critical() {} };

/** Connections seen by the test filters, newest last. */
export const seen: Array<{ tag: string; info: ConnectionInfo; conn: DownstreamConnection }> = [];
/** Tags of echo factories destroyed (filter chain drained / listener removed). */
export const destroyedTags: string[] = [];

/** Terminal: writes "hello <tag>\n", echoes, writes "draining\n" when the connection drains, ends on FIN. */
class EchoFilter implements TerminalNetworkFilter {
  constructor(private readonly tag: string) {}
  handleConnection(conn: DownstreamConnection): void {
    seen.push({ tag: this.tag, info: conn.info, conn });
    const s = conn.socket as net.Socket;
    s.write(`hello ${this.tag}\n`);
    if (conn.initialData) s.write(conn.initialData);
    conn.onDrain(() => { if (!s.destroyed) s.write('draining\n'); });
    s.on('data', (d: Buffer) => s.write(d));
    s.on('end', () => s.end());
    s.resume();
  }
}

register<NetworkFilterFactory>('network_filter', {
  typeNames: ['remora.test.Echo'],
  create(cfg) {
    const tag = String(cfg.tag ?? '');
    return { name: 'test.echo', terminal: true, createFilter: () => new EchoFilter(tag), destroy: () => { destroyedTags.push(tag); } };
  },
});

/** Non-terminal: {action: 'continue' | 'reject' | 'pause', pauseMs}. */
class GateFilter implements NetworkFilter {
  constructor(private readonly action: string, private readonly pauseMs: number) {}
  onNewConnection(conn: DownstreamConnection): NetworkFilterStatus {
    if (this.action === 'reject') { conn.close('noflush'); return NetworkFilterStatus.StopIteration; }
    if (this.action === 'pause') {
      setTimeout(() => conn.continueReading(), this.pauseMs);
      return NetworkFilterStatus.StopIteration;
    }
    if (this.action === 'throw') throw new Error('gate failure');
    return NetworkFilterStatus.Continue;
  }
}

register<NetworkFilterFactory>('network_filter', {
  typeNames: ['remora.test.Gate'],
  create(cfg) {
    const action = String(cfg.action ?? 'continue');
    const pauseMs = Number(cfg.pauseMs ?? 0);
    return { name: 'test.gate', terminal: false, createFilter: () => new GateFilter(action, pauseMs) };
  },
});

/** Accepted but inert (like Istio's metadata exchange): the registry marks it noop. */
register<NetworkFilterFactory | undefined>('network_filter', {
  typeNames: ['remora.test.Noop'],
  noop: true,
  create: () => undefined,
});

/**
 * Listener filter: waits for `bytes` bytes; the text before the first '|' (if any) becomes the SNI.
 * {never: true} never decides (timeout tests).
 */
class PeekFilter implements ListenerFilter {
  private cb: ListenerFilterCallbacks | undefined;
  constructor(readonly maxReadBytes: number, private readonly never: boolean) {}
  onAccept(cb: ListenerFilterCallbacks): ListenerFilterStatus {
    this.cb = cb;
    return ListenerFilterStatus.StopIteration;
  }
  onData(data: Buffer): ListenerFilterStatus {
    if (this.never || data.length < this.maxReadBytes) return ListenerFilterStatus.StopIteration;
    const text = data.toString('latin1');
    const bar = text.indexOf('|');
    if (bar > 0) this.cb!.info.sni = text.slice(0, bar);
    return ListenerFilterStatus.Continue;
  }
}

register<ListenerFilterFactory>('listener_filter', {
  typeNames: ['remora.test.Peek'],
  create(cfg) {
    const bytes = Number(cfg.bytes ?? 4);
    const never = !!cfg.never;
    return { name: 'test.peek', createFilter: () => new PeekFilter(bytes, never) };
  },
});

export function makeCtx(opts: { drainTimeMs?: number; clusterManager?: ClusterManager; stats?: Store } = {}): ListenerContext & { stats: Store } {
  const stats = opts.stats ?? new Store();
  return {
    stats,
    clusterManager: opts.clusterManager ?? ({ get: () => undefined, all: () => [], addOrUpdate: () => { throw new Error('no'); }, remove: () => false, shutdown: () => {} } as ClusterManager),
    log: silentLog,
    drainTimeMs: opts.drainTimeMs ?? 200,
  };
}

export function echoChain(tag: string, match?: object, name?: string): object {
  return {
    name: name ?? tag,
    filter_chain_match: match,
    filters: [{ name: 'echo', typed_config: { '@type': ECHO, tag } }],
  };
}

export function listenerConfig(name: string, chains: object[], extra: object = {}, port = 0): Record<string, unknown> {
  return {
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: port, protocol: 'TCP' } },
    filter_chains: chains,
    ...extra,
  };
}

/** Connect to 127.0.0.1:port (optionally from a given loopback source address). */
export function connect(port: number, localAddress?: string, host = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port, localAddress });
    const t = setTimeout(() => { s.destroy(); reject(new Error('connect timeout')); }, 3000);
    s.once('connect', () => { clearTimeout(t); s.off('error', reject); resolve(s); });
    s.once('error', (e) => { clearTimeout(t); reject(e); });
  });
}

/** A socket plus everything it received so far and whether it ended/closed. */
export class Client {
  data = '';
  bytes = 0;
  ended = false;
  closed = false;
  error: Error | undefined;
  constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => { this.data += d.toString('latin1'); this.bytes += d.length; });
    socket.on('end', () => { this.ended = true; });
    socket.on('close', () => { this.closed = true; });
    socket.on('error', (e) => { this.error = e; });
  }
  static async open(port: number, localAddress?: string): Promise<Client> {
    return new Client(await connect(port, localAddress));
  }
  /** Connect without waiting for 'connect' (the peer may reset at once). */
  static loose(port: number, localAddress?: string): Client {
    return new Client(net.connect({ host: '127.0.0.1', port, localAddress }));
  }
  write(s: string | Buffer): void { this.socket.write(s); }
  until(text: string, ms = 3000): Promise<void> {
    return waitFor(() => this.data.includes(text), ms, () => `waiting for ${JSON.stringify(text)}, have ${JSON.stringify(this.data.slice(-200))}`);
  }
  waitClosed(ms = 3000): Promise<void> {
    return waitFor(() => this.closed, ms, () => `waiting for close, have ${JSON.stringify(this.data.slice(-200))}`);
  }
  destroy(): void { this.socket.destroy(); }
}

/** Poll cond every 5 ms, at most ms milliseconds. */
export async function waitFor(cond: () => boolean, ms = 3000, what?: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what ? what() : 'condition'}`);
    await sleep(5);
  }
}

export function sleep(ms: number): Promise<void> { return new Promise((r) => setTimeout(r, ms)); }

/** A free TCP port on 127.0.0.1 that nothing listens on (bound then released). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

let tmpSeq = 0;
export function tmpFile(name: string): string {
  return path.join(os.tmpdir(), `remora-test-${process.pid}-${++tmpSeq}-${name}`);
}

/** Flush file access logs and read the lines of one log file. */
export async function readLog(file: string): Promise<string[]> {
  await flushAllAccessLogs();
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
}

export function fileAccessLog(file: string, format: string): object {
  return {
    name: 'envoy.access_loggers.file',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog',
      path: file,
      log_format: { text_format_source: { inline_string: format + '\n' } },
    },
  };
}

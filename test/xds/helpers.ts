// Shared pieces of the xDS client tests: a recording ResourceHandler, small valid resources
// of every type, and a client <-> TestControlPlane setup over real gRPC on loopback.
import { GrpcXdsClient, type XdsClientOptions } from '../../src/xds/client';
import { TestControlPlane, type ControlPlaneOptions } from '../../src/xds/control_plane';
import { TYPE, type ResourceHandler, type ResourceUpdate } from '../../src/xds/types';
import { Store } from '../../src/stats/stats';
import type { Logger } from '../../src/server/context';

export { TYPE };

/** A logger that keeps the lines (tests assert on some; nothing reaches stderr). */
export function memoryLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const add = (lvl: string) => (m: string): void => {
    if (lines.length < 5000) lines.push(`[${lvl}] ${m}`);
  };
  return { lines, trace: add('trace'), debug: add('debug'), info: add('info'), warn: add('warning'), error: add('error'), critical: add('critical') };
}

/** Stores every update; throws on command (to test NACKs). */
export class RecordingHandler implements ResourceHandler {
  readonly updates: ResourceUpdate[] = [];
  readonly expired: Array<{ typeUrl: string; names: string[] }> = [];
  /** When set, the next apply() throws this message (once). */
  throwNext: string | undefined;
  /** When set, every apply() throws this message. */
  throwAlways: string | undefined;
  /** Current resources by name (added minus removed/expired). */
  readonly current = new Map<string, unknown>();

  apply(update: ResourceUpdate): void {
    if (this.throwAlways) throw new Error(this.throwAlways);
    if (this.throwNext) {
      const m = this.throwNext;
      this.throwNext = undefined;
      throw new Error(m);
    }
    this.updates.push(update);
    for (const n of update.removed) this.current.delete(n);
    for (const d of update.added) this.current.set(d.name, d.resource);
  }

  onExpired(typeUrl: string, names: string[]): void {
    this.expired.push({ typeUrl, names });
    for (const n of names) this.current.delete(n);
  }

  last(): ResourceUpdate {
    const u = this.updates[this.updates.length - 1];
    if (!u) throw new Error('no update yet');
    return u;
  }

  names(): string[] {
    return [...this.current.keys()].sort();
  }
}

/** Poll a condition every 5 ms, at most timeoutMs. */
export async function waitUntil(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (let i = 0; i < 100000; i++) {
    if (cond()) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`gave up waiting for ${what}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// ---- resources ------------------------------------------------------------------------

export function clusterJson(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, connect_timeout: '1s', type: 'EDS', eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } }, ...extra };
}

export function listenerJson(name: string, port = 10000, cluster = 'c1'): Record<string, unknown> {
  return {
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [{
      filters: [{
        name: 'envoy.filters.network.tcp_proxy',
        typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: name, cluster },
      }],
    }],
  };
}

export function routeJson(name: string, cluster = 'c1'): Record<string, unknown> {
  return { name, virtual_hosts: [{ name: 'vh', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster } }] }] };
}

export function claJson(cluster: string, port = 8080): Record<string, unknown> {
  return { cluster_name: cluster, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }] };
}

export function secretJson(name: string): Record<string, unknown> {
  return { name, validation_context: { trusted_ca: { inline_string: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' } } };
}

// ---- setup ----------------------------------------------------------------------------

export interface Harness {
  cp: TestControlPlane;
  client: GrpcXdsClient;
  stats: Store;
  log: ReturnType<typeof memoryLog>;
  handlers: Record<string, RecordingHandler>;
  close(): Promise<void>;
}

export type HarnessOptions = Partial<XdsClientOptions> & { cp?: ControlPlaneOptions; controlPlane?: TestControlPlane };

/** A started control plane and a client (not started) with a RecordingHandler per core type. */
export async function harness(opts: HarnessOptions = {}): Promise<Harness> {
  const cp = opts.controlPlane ?? new TestControlPlane(opts.cp);
  let target = cp.target;
  if (!opts.controlPlane) target = (await cp.start()).target;
  const stats = opts.stats ?? new Store();
  const log = memoryLog();
  const { cp: _cpOpts, controlPlane: _given, ...rest } = opts;
  void _cpOpts;
  void _given;
  const client = new GrpcXdsClient({
    target,
    node: { id: 'sidecar~10.0.0.1~pod.ns~ns.svc.cluster.local', cluster: 'test' },
    stats,
    log,
    backoff: { baseMs: 20, maxMs: 200 },
    initialFetchTimeoutMs: 0,
    ...rest,
  });
  const handlers: Record<string, RecordingHandler> = {};
  for (const t of Object.values(TYPE)) {
    handlers[t] = new RecordingHandler();
    try {
      client.setHandler(t, handlers[t]);
    } catch {
      /* per-type service: only its own type */
    }
  }
  return {
    cp,
    client,
    stats,
    log,
    handlers,
    async close() {
      client.stop();
      await cp.stop();
    },
  };
}

/** The modes every protocol test runs in. */
export const MODES: Array<{ name: string; apiType: 'GRPC' | 'DELTA_GRPC' }> = [
  { name: 'SotW', apiType: 'GRPC' },
  { name: 'delta', apiType: 'DELTA_GRPC' },
];

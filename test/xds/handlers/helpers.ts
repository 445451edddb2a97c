// Test helpers for the xDS handlers: a tiny in-test XdsClient that hands resources straight
// to handler.apply (the handlers are what is under test; the real AdsClient has its own
// tests), a real remora Server on loopback with dynamic_resources, resource builders.
import * as http from 'node:http';
import * as net from 'node:net';
import { Server } from '../../../src/server/server';
import { Store } from '../../../src/stats/stats';
import { setLogLevel } from '../../../src/common/log';
import { fromJSON, toJSON, toPlain } from '../../../src/config/json';
import { TYPE, type DecodedResource, type ResourceHandler, type TypeStatus, type XdsClient } from '../../../src/xds/types';

export { TYPE };
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const TYPE_NAMES: Record<string, string> = {
  [TYPE.LISTENER]: 'envoy.config.listener.v3.Listener',
  [TYPE.ROUTE]: 'envoy.config.route.v3.RouteConfiguration',
  [TYPE.CLUSTER]: 'envoy.config.cluster.v3.Cluster',
  [TYPE.ENDPOINT]: 'envoy.config.endpoint.v3.ClusterLoadAssignment',
  [TYPE.SECRET]: 'envoy.extensions.transport_sockets.tls.v3.Secret',
};
const FULL_STATE = new Set<string>([TYPE.LISTENER, TYPE.CLUSTER]);

/** A resource as the client would hand it over: decoded + validated, plain + proto3 JSON. */
export function decoded(typeUrl: string, json: Json, version = '', validate = true): DecodedResource {
  const typeName = TYPE_NAMES[typeUrl];
  const msg = fromJSON(typeName, json, '', { validate });
  const resource = toPlain(typeName, msg);
  const name = typeof resource.name === 'string' && resource.name ? resource.name : String(resource.cluster_name ?? '');
  return { name, version, resource, json: toJSON(typeName, msg) };
}

export type PushResult = { ok: true } | { ok: false; error: string };

/** The in-test XdsClient: subscriptions recorded, push() calls handler.apply, ACK/NACK recorded. */
export class FakeXdsClient implements XdsClient {
  readonly handlers = new Map<string, ResourceHandler>();
  readonly subs = new Map<string, Set<string>>();
  readonly wildcard = new Set<string>();
  readonly accepted = new Map<string, Set<string>>();
  readonly log: string[] = [];
  readonly statuses = new Map<string, TypeStatus>();
  started = false;
  stopped = false;
  private nonce = 0;

  setHandler(typeUrl: string, handler: ResourceHandler): void { this.handlers.set(typeUrl, handler); }
  subscribe(typeUrl: string, names: string[] | '*'): void {
    if (names === '*') { this.wildcard.add(typeUrl); this.log.push(`sub ${short(typeUrl)} *`); return; }
    const s = this.subs.get(typeUrl) ?? new Set<string>();
    this.subs.set(typeUrl, s);
    for (const n of names) s.add(n);
    this.log.push(`sub ${short(typeUrl)} ${names.join(',')}`);
  }
  unsubscribe(typeUrl: string, names: string[]): void {
    const s = this.subs.get(typeUrl);
    for (const n of names) s?.delete(n);
    this.log.push(`unsub ${short(typeUrl)} ${names.join(',')}`);
  }
  start(): void { this.started = true; }
  stop(): void { this.stopped = true; }
  connected(): boolean { return this.started && !this.stopped; }
  status(): TypeStatus[] { return [...this.statuses.values()]; }

  subscribed(typeUrl: string): string[] { return [...(this.subs.get(typeUrl) ?? [])].sort(); }

  /**
   * Deliver a response: resources as proto3 JSON (or already decoded). SotW full-state types
   * (LDS/CDS) get `removed` = accepted names the response lacks, like the real client.
   */
  push(typeUrl: string, resources: Array<Json | DecodedResource>, opts: { version?: string; removed?: string[] } = {}): PushResult {
    const version = opts.version ?? String(++this.nonce);
    const nonce = String(++this.nonce);
    const added = resources.map((r) => (isDecoded(r) ? r : decoded(typeUrl, r, version)));
    const full = FULL_STATE.has(typeUrl) && opts.removed === undefined;
    const prev = this.accepted.get(typeUrl) ?? new Set<string>();
    const removed = opts.removed ?? (full ? [...prev].filter((n) => !added.some((a) => a.name === n)) : []);
    const h = this.handlers.get(typeUrl);
    const st: TypeStatus = this.statuses.get(typeUrl) ?? { typeUrl, wildcard: this.wildcard.has(typeUrl), subscribed: [], lastAckedVersion: '', lastAckedNonce: '', lastUpdated: '' };
    st.subscribed = this.subscribed(typeUrl);
    this.statuses.set(typeUrl, st);
    try {
      if (!h) throw new Error(`no handler for ${typeUrl}`);
      h.apply({ typeUrl, versionInfo: version, added, removed, isFullState: full });
    } catch (e) {
      st.lastNack = { version, nonce, error: (e as Error).message, time: new Date().toISOString() };
      return { ok: false, error: (e as Error).message };
    }
    if (full) this.accepted.set(typeUrl, new Set(added.map((a) => a.name)));
    else { for (const a of added) prev.add(a.name); for (const r of removed) prev.delete(r); this.accepted.set(typeUrl, prev); }
    st.lastAckedVersion = version;
    st.lastAckedNonce = nonce;
    st.lastUpdated = new Date().toISOString();
    return { ok: true };
  }
}

function isDecoded(r: Json | DecodedResource): r is DecodedResource {
  return typeof (r as DecodedResource).name === 'string' && (r as DecodedResource).resource !== undefined && 'version' in r;
}

function short(typeUrl: string): string {
  return ({ [TYPE.LISTENER]: 'LDS', [TYPE.ROUTE]: 'RDS', [TYPE.CLUSTER]: 'CDS', [TYPE.ENDPOINT]: 'EDS', [TYPE.SECRET]: 'SDS' } as Record<string, string>)[typeUrl] ?? typeUrl;
}

export function assertOk(r: PushResult): void {
  if (!r.ok) throw new Error(`expected ACK, got NACK: ${r.error}`);
}

export function nackOf(r: PushResult): string {
  if (r.ok) throw new Error('expected NACK, got ACK');
  return r.error;
}

/** One turn of the event loop (deferred subscription changes are sent). */
export function tick(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/** Poll until cond() is true (bounded: 100 tries x 20 ms). */
export async function waitFor(cond: () => boolean, what = 'condition', tries = 100): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

// ---- resource builders ------------------------------------------------------------------

export const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
export const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

export function edsCluster(name: string, opts: { service?: string; timeout?: string; lbPolicy?: string } = {}): Json {
  return {
    name, type: 'EDS', connect_timeout: '1s',
    ...(opts.lbPolicy ? { lb_policy: opts.lbPolicy } : {}),
    eds_cluster_config: { ...(opts.service ? { service_name: opts.service } : {}), eds_config: { ads: {}, initial_fetch_timeout: opts.timeout ?? '0s' } },
  };
}

export function staticCluster(name: string, port: number): Json {
  return {
    name, type: 'STATIC', connect_timeout: '1s',
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }] },
  };
}

export function cla(name: string, ports: number[], health?: string[]): Json {
  return {
    cluster_name: name,
    endpoints: [{ lb_endpoints: ports.map((p, i) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: p } } }, ...(health?.[i] ? { health_status: health[i] } : {}) })) }],
  };
}

export function rdsListener(name: string, route: string, opts: { port?: number; timeout?: string; statPrefix?: string } = {}): Json {
  return {
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: opts.port ?? 0 } },
    filter_chains: [{
      filters: [{
        name: 'envoy.filters.network.http_connection_manager',
        typed_config: {
          '@type': HCM, stat_prefix: opts.statPrefix ?? 'ingress',
          rds: { route_config_name: route, config_source: { ads: {}, initial_fetch_timeout: opts.timeout ?? '0s' } },
          http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } }],
        },
      }],
    }],
  };
}

export function routeConfig(name: string, cluster: string | Json[], extra: Json = {}): Json {
  const action = typeof cluster === 'string' ? { cluster } : { weighted_clusters: { clusters: cluster } };
  return { name, virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: action, ...extra }] }] };
}

// ---- a real Server with dynamic_resources -----------------------------------------------

export interface Harness {
  server: Server;
  store: Store;
  client: FakeXdsClient;
  adminPort: number;
  /** Bound port of a listener. */
  port(name: string): number;
  close(): Promise<void>;
}

export function bootstrapYaml(extraStatic = ''): string {
  return `
node: { id: test-node, cluster: test }
admin: { address: { socket_address: { address: 127.0.0.1, port_value: 0 } } }
static_resources:
  clusters:
  - name: xds-grpc
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: xds-grpc
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 1 } } } }] }]
${extraStatic}
dynamic_resources:
  ads_config: { api_type: GRPC, grpc_services: [{ envoy_grpc: { cluster_name: xds-grpc } }] }
  cds_config: { ads: {}, initial_fetch_timeout: 0s }
  lds_config: { ads: {}, initial_fetch_timeout: 0s }
`;
}

export async function startHarness(yaml = bootstrapYaml(), opts: { drainTimeS?: number } = {}): Promise<Harness> {
  setLogLevel('critical');
  const store = new Store();
  const client = new FakeXdsClient();
  const server = new Server({ configYaml: yaml, drainTimeS: opts.drainTimeS ?? 1, xdsClient: client }, store);
  try {
    await server.start();
  } catch (e) {
    await server.shutdown(0, false).catch(() => undefined);
    throw e;
  }
  let closed = false;
  return {
    server, store, client,
    adminPort: server.admin?.port ?? 0,
    port(name: string): number {
      const l = server.listenerManager.listeners().find((x) => x.name === name);
      if (!l) throw new Error(`no listener ${name}`);
      return l.port;
    },
    async close() {
      if (closed) return;
      closed = true;
      await server.shutdown(0, false);
    },
  };
}

// ---- HTTP -------------------------------------------------------------------------------

export interface Reply { status: number; headers: http.IncomingHttpHeaders; body: string }

export function get(port: number, path: string, timeoutMs = 5000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => { clearTimeout(t); resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }); });
      res.on('error', (e) => { clearTimeout(t); reject(e); });
    });
    const t = setTimeout(() => req.destroy(new Error(`GET ${path} timed out`)), timeoutMs);
    req.on('error', (e) => { clearTimeout(t); reject(e); });
    req.end();
  });
}

/** A real upstream on loopback answering `<name> <url>` after delayMs (0 = at once). */
export async function startUpstream(name: string, delayMs = 0): Promise<{ port: number; hits: number; close(): Promise<void> }> {
  const u = { port: 0, hits: 0, close: async () => undefined as void };
  const server = http.createServer((req, res) => {
    u.hits++;
    req.resume();
    req.on('end', () => {
      const send = () => { res.setHeader('x-upstream', name); res.end(`${name} ${req.url}`); };
      if (delayMs > 0) setTimeout(send, delayMs); else send();
    });
  });
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.1', () => resolve()); });
  u.port = (server.address() as net.AddressInfo).port;
  u.close = () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
  return u;
}

/**
 * One raw HTTP/1.1 keep-alive connection: send(path) writes a request and resolves with the
 * response (Content-Length bodies). `closed` tells whether the socket went away.
 */
export class KeepAliveConnection {
  readonly sock: net.Socket;
  closed = false;
  private buf = Buffer.alloc(0);
  private waiter: (() => void) | undefined;

  private constructor(port: number) {
    this.sock = net.connect(port, '127.0.0.1');
    this.sock.on('data', (d: Buffer) => { this.buf = Buffer.concat([this.buf, d]); this.waiter?.(); });
    this.sock.on('close', () => { this.closed = true; this.waiter?.(); });
    this.sock.on('error', () => { this.closed = true; });
  }

  static async open(port: number): Promise<KeepAliveConnection> {
    const c = new KeepAliveConnection(port);
    await new Promise<void>((resolve, reject) => { c.sock.once('connect', () => resolve()); c.sock.once('error', reject); });
    return c;
  }

  async send(path: string, timeoutMs = 5000): Promise<{ status: number; body: string; headers: string }> {
    this.sock.write(`GET ${path} HTTP/1.1\r\nhost: test\r\n\r\n`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end >= 0) {
        const head = this.buf.subarray(0, end).toString('latin1');
        const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        const len = m ? Number(m[1]) : 0;
        if (this.buf.length >= end + 4 + len) {
          const body = this.buf.subarray(end + 4, end + 4 + len).toString('utf8');
          this.buf = this.buf.subarray(end + 4 + len);
          return { status: Number(head.split(' ')[1]), body, headers: head };
        }
      }
      if (this.closed) throw new Error('connection closed');
      if (Date.now() > deadline) throw new Error(`request ${path} timed out`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.waiter = () => { clearTimeout(t); this.waiter = undefined; resolve(); };
      });
    }
  }

  close(): void { this.sock.destroy(); }
}

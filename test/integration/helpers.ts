// Shared by the end-to-end tests: a real remora Server (src/server/server.ts) on loopback
// port 0, real upstreams (node:http), a small HTTP client, and helpers that load the Envoy
// example configs from /work/shared/fixtures and point them at loopback.
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import * as YAML from 'yaml';
import { Server } from '../../src/server/server';
import { Store } from '../../src/stats/stats';
import { setLogLevel } from '../../src/common/log';

import { FIXTURES } from '../shared_fixtures';
export const EXAMPLES = path.join(FIXTURES, 'envoyproxy-examples');
export const REPO = path.resolve(__dirname, '..', '..', ...(path.basename(path.resolve(__dirname, '..', '..')) === 'dist' ? ['..'] : []));
export const BIN = path.join(REPO, 'bin', 'remora.js');

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface Remora {
  server: Server;
  store: Store;
  /** Bound port of the listener with this name (or of the n-th listener when a number). */
  port(which?: string | number): number;
  adminPort: number;
  close(): Promise<void>;
}

/** Start a real Server from a bootstrap (YAML text or a JSON-like object). */
export async function startRemora(config: string | Json, opts: { drainTimeS?: number; logLevel?: string } = {}): Promise<Remora> {
  setLogLevel(opts.logLevel ?? 'error');
  const configYaml = typeof config === 'string' ? config : YAML.stringify(config);
  const store = new Store();
  const server = new Server({ configYaml, drainTimeS: opts.drainTimeS ?? 1 }, store);
  try {
    await server.start();
  } catch (e) {
    await server.shutdown(0, false).catch(() => undefined);
    throw e;
  }
  let closed = false;
  return {
    server,
    store,
    port(which: string | number = 0): number {
      const ls = server.listenerManager.listeners();
      const l = typeof which === 'number' ? ls[which] : ls.find((x) => x.name === which);
      if (!l) throw new Error(`no listener ${which}`);
      return l.port;
    },
    adminPort: server.admin?.port ?? 0,
    async close() {
      if (closed) return;
      closed = true;
      await server.shutdown(0, false);
    },
  };
}

export interface Reply { status: number; headers: http.IncomingHttpHeaders; body: string }

/** One HTTP/1.1 request on a fresh connection (no agent), bounded by timeoutMs. */
export function request(port: number, p: string, o: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number; host?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: p, method: o.method ?? 'GET', headers: o.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => { clearTimeout(t); resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }); });
      res.on('error', (e) => { clearTimeout(t); reject(e); });
    });
    const t = setTimeout(() => req.destroy(new Error(`request ${p} timed out`)), o.timeoutMs ?? 5000);
    req.on('error', (e) => { clearTimeout(t); reject(e); });
    req.end(o.body);
  });
}

export const get = (port: number, p: string, headers?: Record<string, string>) => request(port, p, { headers });
export const post = (port: number, p: string) => request(port, p, { method: 'POST' });

/** A real upstream on 127.0.0.1:0 that records what it received. */
export interface Upstream {
  name: string;
  port: number;
  seen: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; body: string }>;
  server: http.Server;
  close(): Promise<void>;
}

export type UpstreamHandler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

/** Default handler: `<name> <method> <url>`, with an `x-upstream: <name>` header. */
export async function startUpstream(name: string, handler?: UpstreamHandler): Promise<Upstream> {
  const seen: Upstream['seen'] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (handler) { handler(req, res, body); return; }
      res.setHeader('x-upstream', name);
      res.end(`${name} ${req.method} ${req.url}`);
    });
  });
  await listen(server);
  return { name, port: (server.address() as net.AddressInfo).port, seen, server, close: () => closeServer(server) };
}

export function listen(server: net.Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
}

export function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    (server as http.Server).closeAllConnections?.();
    server.close(() => resolve());
  });
}

/** A port nothing listens on (bound then released). */
export async function deadPort(): Promise<number> {
  const s = net.createServer();
  await listen(s);
  const p = (s.address() as net.AddressInfo).port;
  await closeServer(s);
  return p;
}

// ---- Envoy example configs -----------------------------------------------------------

/** Read an example's YAML as plain data (Envoy's own YAML rules matter not here: the
 * result is turned back into YAML and read by remora's loader). */
export function readExample(rel: string): Json {
  return YAML.parse(fs.readFileSync(path.join(EXAMPLES, rel), 'utf8')) as Json;
}

/**
 * Point an example at loopback: every listener (and admin) on 127.0.0.1:0, every cluster
 * endpoint of the clusters named in `endpoints` on 127.0.0.1:<port>. Clusters not named keep
 * their (unresolvable) addresses only if `keepOthers`; otherwise it throws, so a test never
 * depends on DNS.
 */
export function toLoopback(b: Json, endpoints: Record<string, number>, o: { keepOthers?: boolean } = {}): Json {
  for (const l of b.static_resources?.listeners ?? []) {
    l.address = { socket_address: { address: '127.0.0.1', port_value: 0 } };
  }
  if (b.admin) b.admin.address = { socket_address: { address: '127.0.0.1', port_value: 0 } };
  for (const c of b.static_resources?.clusters ?? []) {
    const port = endpoints[c.name];
    if (port === undefined) {
      if (o.keepOthers) continue;
      throw new Error(`toLoopback: no endpoint given for cluster ${c.name}`);
    }
    for (const le of c.load_assignment?.endpoints ?? []) {
      for (const e of le.lb_endpoints ?? []) {
        e.endpoint.address = { socket_address: { address: '127.0.0.1', port_value: port } };
      }
    }
  }
  return b;
}

/** Wait until fn() is true, polling every 10 ms, at most timeoutMs. */
export async function until(fn: () => boolean | Promise<boolean>, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A counter's value, or undefined when remora never created it (so a wrong name fails). */
export function counter(r: Remora, name: string): number | undefined {
  return r.store.counters.get(name)?.value;
}

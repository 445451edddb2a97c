// The Envoy sandboxes (github.com/envoyproxy/examples, copied to /work/shared/fixtures) run
// through the real remora Server: listeners moved to 127.0.0.1:0, cluster endpoints pointed
// at real loopback upstreams that answer like the sandbox's services. Examples that use
// features remora does not have yet must fail `remora --mode validate` with exit code 1 and
// a message naming the field or extension: never a silent pass.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import * as grpc from '@grpc/grpc-js';
import {
  BIN, EXAMPLES, closeServer, counter, get, listen, readExample, startRemora, startUpstream, toLoopback,
  type Remora, type Upstream,
} from './helpers';

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function remora(b: Record<string, unknown>): Promise<Remora> {
  const r = await startRemora(b);
  cleanups.push(() => r.close());
  return r;
}

async function upstream(name: string, handler?: Parameters<typeof startUpstream>[1]): Promise<Upstream> {
  const u = await startUpstream(name, handler);
  cleanups.push(() => u.close());
  return u;
}

/** The front-proxy sandbox's Flask service: "Hello from behind Envoy (service N)!". */
function flaskService(n: number) {
  return upstream(`service${n}`, (req, res) => {
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end(`Hello from behind Envoy (service ${n})! hostname: service${n} resolved hostname: 127.0.0.1\n`);
  });
}

/** The self-signed front-envoy certificate and key inlined in front-proxy/envoy.yaml. */
function frontEnvoyCert(): { cert: string; key: string } {
  const tls = readExample('front-proxy/envoy.yaml').static_resources.listeners[1].filter_chains[0].transport_socket.typed_config;
  const c = tls.common_tls_context.tls_certificates[0];
  return { cert: c.certificate_chain.inline_string, key: c.private_key.inline_string };
}

// ---- front-proxy ---------------------------------------------------------------------------

test('front-proxy: front envoy -> service envoys -> services, /service/1 and /service/2 (HTTP listener)', async () => {
  const s1 = await flaskService(1);
  const s2 = await flaskService(2);
  // The two sidecar envoys next to the services (service-envoy.yaml, service-envoy-2.yaml).
  const side1 = await remora(toLoopback(readExample('front-proxy/service-envoy.yaml'), { service1: s1.port }));
  const side2 = await remora(toLoopback(readExample('front-proxy/service-envoy-2.yaml'), { service2: s2.port }));
  // The front envoy: its HTTP listener (8080); the HTTPS one (8443) needs downstream TLS, see below.
  const front = readExample('front-proxy/envoy.yaml');
  front.static_resources.listeners = [front.static_resources.listeners[0]];
  const fp = await remora(toLoopback(front, { 'service1-envoy': side1.port(), 'service2-envoy': side2.port() }));

  const r1 = await get(fp.port(), '/service/1');
  assert.equal(r1.status, 200);
  assert.match(r1.body, /^Hello from behind Envoy \(service 1\)!/);
  assert.equal(r1.headers.server, 'envoy');
  assert.match(String(r1.headers['x-envoy-upstream-service-time']), /^\d+$/);
  const r2 = await get(fp.port(), '/service/2');
  assert.equal(r2.status, 200);
  assert.match(r2.body, /^Hello from behind Envoy \(service 2\)!/);

  // Each service saw one request, relayed by two proxies: same path, the request id the
  // front proxy generated (kept by the trusted sidecar), x-forwarded-proto.
  assert.equal(s1.seen.length, 1);
  assert.equal(s1.seen[0].url, '/service/1');
  assert.match(String(s1.seen[0].headers['x-request-id']), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(s1.seen[0].headers['x-forwarded-proto'], 'http');
  assert.equal(s2.seen.length, 1);

  // The service envoy only routes its own service: /service/2 on sidecar 1 is a 404 (NR).
  assert.equal((await get(side1.port(), '/service/2')).status, 404);
  // No route on the front proxy either.
  const nr = await get(fp.port(), '/service/3');
  assert.equal(nr.status, 404);
  assert.equal(s1.seen.length + s2.seen.length, 2);

  // Envoy stat names on all three hops.
  assert.equal(counter(fp, 'cluster.service1-envoy.upstream_rq_200'), 1);
  assert.equal(counter(fp, 'cluster.service2-envoy.upstream_rq_200'), 1);
  assert.equal(counter(side1, 'cluster.service1.upstream_rq_200'), 1);
  assert.equal(counter(side1, 'http.service_envoy_1.downstream_rq_2xx'), 1);
  assert.equal(counter(side1, 'http.service_envoy_1.downstream_rq_4xx'), 1);
  assert.equal(counter(fp, 'http.ingress_http.downstream_rq_total'), 3);
});

// ---- websocket ---------------------------------------------------------------------------

interface WsService { port: number; close(): Promise<void> }

/** The websocket sandbox's service: echoes every message; plain HTTP gets "HTTP: <url>". */
async function wsService(secure = false): Promise<WsService> {
  const plain = (req: http.IncomingMessage, res: http.ServerResponse) => res.end(`HTTP: ${req.url}`);
  const server = secure ? https.createServer(frontEnvoyCert(), plain) : http.createServer(plain);
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => ws.on('message', (m) => ws.send(`echo ${req.url} ${m.toString()}`)));
  await listen(server);
  const s: WsService = {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      await closeServer(server);
    },
  };
  cleanups.push(() => s.close());
  return s;
}

/** Open a WebSocket, send one message, return the reply (or the non-101 status). */
function wsRoundTrip(url: string, msg: string, opts: WebSocket.ClientOptions = {}): Promise<{ reply?: string; status?: number; body?: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts);
    const t = setTimeout(() => { ws.terminate(); reject(new Error(`websocket ${url} timed out`)); }, 5000);
    ws.on('open', () => ws.send(msg));
    ws.on('message', (m) => { clearTimeout(t); ws.close(); resolve({ reply: m.toString() }); });
    ws.on('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => { clearTimeout(t); ws.terminate(); resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }); });
    });
    ws.on('error', (e) => { clearTimeout(t); reject(e); });
  });
}

test('websocket/envoy-ws.yaml: HCM-level upgrade_configs proxies ws:// on every route', async () => {
  const svc = await wsService();
  const r = await remora(toLoopback(readExample('websocket/envoy-ws.yaml'), { service_ws: svc.port }));
  assert.deepEqual(await wsRoundTrip(`ws://127.0.0.1:${r.port()}/`, 'HELO'), { reply: 'echo / HELO' });
  assert.deepEqual(await wsRoundTrip(`ws://127.0.0.1:${r.port()}/any/path`, 'x'), { reply: 'echo /any/path x' });
  // Plain HTTP goes to the same cluster.
  assert.equal((await get(r.port(), '/plain')).body, 'HTTP: /plain');
  assert.equal(counter(r, 'http.ingress_ws_to_ws.downstream_cx_upgrades_total'), 2);
});

test('websocket/envoy-ws-route.yaml: upgrades only on /ws; other paths answer "NotWebSocket"', async () => {
  const svc = await wsService();
  const r = await remora(toLoopback(readExample('websocket/envoy-ws-route.yaml'), { service_ws: svc.port }));
  assert.deepEqual(await wsRoundTrip(`ws://127.0.0.1:${r.port()}/ws`, 'HELO'), { reply: 'echo /ws HELO' });
  const plain = await get(r.port(), '/');
  assert.equal(plain.status, 200);
  assert.equal(plain.body, 'NotWebSocket\n');
  // An upgrade where no upgrade config allows it is refused: Envoy's 403 (upgrade_failed).
  const refused = await wsRoundTrip(`ws://127.0.0.1:${r.port()}/`, 'x');
  assert.equal(refused.status, 403);
  assert.equal(counter(r, 'http.ingress_ws_to_ws.downstream_rq_ws_on_non_ws_route'), 1);
});

test('websocket/envoy-wss-passthrough.yaml: tcp_proxy carries wss:// end to end', async () => {
  const svc = await wsService(true);
  const r = await remora(toLoopback(readExample('websocket/envoy-wss-passthrough.yaml'), { service_wss_passthrough: svc.port }));
  assert.deepEqual(await wsRoundTrip(`wss://127.0.0.1:${r.port()}/wss`, 'HELO', { rejectUnauthorized: false }), { reply: 'echo /wss HELO' });
  assert.equal(counter(r, 'tcp.wss_passthrough.downstream_cx_total'), 1);
});

// ---- tls passthrough -------------------------------------------------------------------

test('tls/envoy-https-passthrough.yaml: TLS is passed through to the upstream untouched', async () => {
  const server = https.createServer(frontEnvoyCert(), (req, res) => res.end(`Hello from behind Envoy (https) ${req.url}`));
  await listen(server);
  cleanups.push(() => closeServer(server));
  const r = await remora(toLoopback(readExample('tls/envoy-https-passthrough.yaml'), { 'service-https': (server.address() as AddressInfo).port }));
  const body = await new Promise<{ status: number; body: string; subject: string }>((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port: r.port(), path: '/tls', rejectUnauthorized: false, agent: false }, (res) => {
      const subject = String((res.socket as import('node:tls').TLSSocket).getPeerCertificate().subject?.CN ?? '');
      let b = '';
      res.on('data', (c) => { b += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b, subject }));
    });
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
  // The certificate the client sees is the upstream's own: remora did not terminate TLS.
  assert.deepEqual(body, { status: 200, body: 'Hello from behind Envoy (https) /tls', subject: 'front-envoy' });
  assert.equal(counter(r, 'tcp.https_passthrough.downstream_cx_total'), 1);
});

// ---- grpc-bridge (server side) ------------------------------------------------------------

test('grpc-bridge/server/envoy-proxy.yaml: gRPC (match grpc: {}) over h2c to the backend; non-gRPC is 404', async () => {
  const id = (b: Buffer) => b;
  const service = {
    get: { path: '/kv.KV/Get', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id },
  } as unknown as grpc.ServiceDefinition;
  const gs = new grpc.Server();
  gs.addService(service, {
    get: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from(`value-of-${call.request.toString()}`)),
  } as unknown as grpc.UntypedServiceImplementation);
  const gport = await new Promise<number>((res, rej) => gs.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  cleanups.push(() => { gs.forceShutdown(); });
  const r = await remora(toLoopback(readExample('grpc-bridge/server/envoy-proxy.yaml'), { backend_grpc_service: gport }));

  const Client = grpc.makeGenericClientConstructor(service, 'KV');
  const client = new Client(`127.0.0.1:${r.port()}`, grpc.credentials.createInsecure());
  try {
    const reply = await new Promise<Buffer>((res, rej) => {
      (client as unknown as { get(b: Buffer, o: object, cb: (e: Error | null, v: Buffer) => void): void })
        .get(Buffer.from('foo'), { deadline: Date.now() + 5000 }, (e, v) => (e ? rej(e) : res(v)));
    });
    assert.equal(reply.toString(), 'value-of-foo');
  } finally {
    client.close();
  }
  assert.equal((await get(r.port(), '/kv.KV/Get')).status, 404);
  assert.equal(counter(r, 'cluster.backend_grpc_service.upstream_rq_200'), 1);
});

// ---- load-reporting-service ---------------------------------------------------------------

test('load-reporting-service/envoy.yaml: /service routes to local_service', async () => {
  const svc = await upstream('http_service');
  const lrs = await upstream('lrs_server');
  const r = await remora(toLoopback(readExample('load-reporting-service/envoy.yaml'), { local_service: svc.port, load_reporting_cluster: lrs.port }));
  const res = await get(r.port(), '/service');
  assert.equal(res.status, 200);
  assert.equal(res.body, 'http_service GET /service');
  assert.equal((await get(r.port(), '/other')).status, 404);
});

// ---- examples remora rejects ------------------------------------------------------------------

function validate(file: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, '--mode', 'validate', '-c', file, '-l', 'error'], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

// example -> what the error must name (field path and/or type URL)
const REJECTED: Array<[string, string[]]> = [
  ['route-mirror/envoy.yaml', ['route_config.virtual_hosts[0].routes[0].route.request_mirror_policies', 'request mirroring is not supported']],
  ['front-proxy/envoy.yaml', ['static_resources.listeners[1].filter_chains[0].transport_socket', 'downstream TLS (envoy.transport_sockets.tls)']],
  ['cors/backend/envoy.yaml', ['static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters[0]', "'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors'"]],
  ['csrf/samesite/envoy.yaml', ['static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters[0]', 'envoy.extensions.filters.http.cors.v3.Cors']],
  ['local_ratelimit/envoy.yaml', ['static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters[0]', "'envoy.filters.http.local_ratelimit'", 'envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit']],
  ['fault-injection/envoy.yaml', ['http_filters[0]', 'envoy.extensions.filters.http.fault.v3.HTTPFault']],
  ['gzip/envoy.yaml', ['http_filters[0]', 'envoy.extensions.filters.http.compressor.v3.Compressor']],
  ['cache/envoy.yaml', ['http_filters[0]', 'envoy.extensions.filters.http.cache.v3.CacheConfig']],
  ['lua/envoy.yaml', ['http_filters[0]', 'envoy.extensions.filters.http.lua.v3.Lua']],
  ['rbac/envoy.yaml', ['http_filters[0]', 'envoy.extensions.filters.http.rbac.v3.RBAC']],
  ['ext_authz/config/http-service.yaml', ['http_filters[0]', 'envoy.extensions.filters.http.ext_authz.v3.ExtAuthz']],
  ['ext_authz/config/grpc-service/v3.yaml', ['http_filters[0]', 'envoy.extensions.filters.http.ext_authz.v3.ExtAuthz']],
  ['grpc-bridge/client/envoy-proxy.yaml', ['http_filters[0]', 'envoy.extensions.filters.http.grpc_http1_bridge.v3.Config']],
  ['double-proxy/envoy-frontend.yaml', ['static_resources.clusters[0].transport_socket', 'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext']],
  ['double-proxy/envoy-backend.yaml', ['static_resources.listeners[0].listener_filters[0]', 'envoy.filters.listener.tls_inspector']],
  ['tls-inspector/envoy.yaml', ['listener_filters[0]', 'envoy.filters.listener.tls_inspector']],
  ['tls-sni/envoy.yaml', ['listener_filters[0]', 'envoy.filters.listener.tls_inspector']],
  ['tls-sni/envoy-client.yaml', ['static_resources.clusters[0].transport_socket', 'UpstreamTlsContext']],
  ['tls/envoy-https-http.yaml', ['static_resources.listeners[0].filter_chains[0].transport_socket', 'envoy.transport_sockets.tls']],
  ['tls/envoy-http-https.yaml', ['static_resources.clusters[0].transport_socket', 'UpstreamTlsContext']],
  ['tls/envoy-https-https.yaml', ['static_resources.clusters[0].transport_socket', 'UpstreamTlsContext']],
  ['kafka/envoy.yaml', ['static_resources.listeners[0].filter_chains[0].filters[0]', 'envoy.extensions.filters.network.kafka_broker.v3.KafkaBroker']],
  ['mysql/envoy.yaml', ['static_resources.listeners[0].filter_chains[0].filters[0]', 'envoy.extensions.filters.network.mysql_proxy.v3.MySQLProxy']],
  ['redis/envoy.yaml', ['static_resources.clusters[0].lb_policy', 'MAGLEV']],
  ['locality-load-balancing/envoy.yaml', ['static_resources.clusters[0].health_checks', 'active health checking']],
  ['udp/envoy.yaml', ['static_resources.listeners[0].address.socket_address.protocol', 'UDP']],
];

test('examples using features remora lacks: --mode validate exits 1 naming the field or type', async () => {
  const results = new Map<string, Awaited<ReturnType<typeof validate>>>();
  const queue = [...REJECTED];
  // Two validations at a time (each is a node process loading the descriptor).
  await Promise.all([0, 1].map(async () => {
    for (let next = queue.shift(); next; next = queue.shift()) results.set(next[0], await validate(path.join(EXAMPLES, next[0])));
  }));
  for (const [rel, needles] of REJECTED) {
    const r = results.get(rel)!;
    const file = path.join(EXAMPLES, rel);
    assert.equal(r.code, 1, `${rel}: exit code (stderr: ${r.stderr})`);
    assert.equal(r.stdout, '', `${rel}: nothing on stdout`);
    assert.ok(r.stderr.startsWith(`remora: error initializing configuration '${file}': `), `${rel}: ${r.stderr}`);
    for (const n of needles) assert.ok(r.stderr.includes(n), `${rel}: error should name ${n}: ${r.stderr}`);
  }
});

test('examples remora runs: --mode validate exits 0 with "configuration ... OK"', async () => {
  for (const rel of ['front-proxy/service-envoy.yaml', 'websocket/envoy-ws.yaml', 'websocket/envoy-wss-passthrough.yaml', 'grpc-bridge/server/envoy-proxy.yaml']) {
    const file = path.join(EXAMPLES, rel);
    const r = await validate(file);
    assert.equal(r.code, 0, `${rel}: ${r.stderr}`);
    assert.equal(r.stdout, `configuration '${file}' OK\n`);
  }
});


// The router behind the real HTTP connection manager (src/filters/network/http_connection_manager)
// on a real listener socket: HTTP/1.1 and h2c downstreams, retries, WebSocket, gRPC.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import * as grpc from '@grpc/grpc-js';
import { Store } from '../../../../src/stats/stats';
import { parse } from '../../../../src/config/json';
import { lookup } from '../../../../src/common/registry';
import { StreamInfo, type ConnectionInfo } from '../../../../src/common/stream_info';
import { ActiveConnection } from '../../../../src/listener/connection';
import type { NetworkFilterFactory } from '../../../../src/listener/types';
import '../../../../src/filters/network/http_connection_manager/config';
import '../../../../src/filters/http/router/config';
import { clusterManager, counter, deadPort, H2_OPTIONS, h1Upstream, quietLog, request, staticCluster, teardownPools } from './harness';

const HCM = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

let listener: net.Server;
let port = 0;
let store: Store;
let factory: NetworkFilterFactory;
const conns = new Set<net.Socket>();
const ups: Array<{ close(): Promise<void> }> = [];
let grpcServer: grpc.Server;
let wsHttp: import('node:http').Server;

let connIds = 0;
function info(sock: net.Socket): ConnectionInfo {
  return {
    id: ++connIds, remoteAddress: sock.remoteAddress ?? '', remotePort: sock.remotePort ?? 0,
    directRemoteAddress: sock.remoteAddress ?? '', directRemotePort: sock.remotePort ?? 0,
    localAddress: sock.localAddress ?? '', localPort: sock.localPort ?? 0, sni: '', alpn: [],
    transportProtocol: 'raw_buffer', tls: false, listenerName: 'l', filterChainName: '',
  };
}

const id = (b: Buffer) => b;
const SERVICE = {
  echo: { path: '/t.E/Echo', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id },
  chat: { path: '/t.E/Chat', requestStream: true, responseStream: true, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id },
} as unknown as grpc.ServiceDefinition;

before(async () => {
  const up = await h1Upstream((req, res, body, n) => {
    if (req.url === '/flaky' && n % 2 === 1) { res.statusCode = 503; res.end('flaky'); return; }
    res.setHeader('x-upstream', '1');
    res.end(`${req.method} ${req.url} ${body.length} ${req.headers['x-route-added'] ?? ''}`);
  });
  ups.push(up);

  wsHttp = (await import('node:http')).createServer();
  const wss = new WebSocketServer({ server: wsHttp });
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`echo:${m.toString()}`)));
  await new Promise<void>((r) => wsHttp.listen(0, '127.0.0.1', () => r()));

  grpcServer = new grpc.Server();
  grpcServer.addService(SERVICE, {
    echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from('grpc:' + call.request.toString())),
    chat: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.on('data', (d: Buffer) => call.write(Buffer.from('re:' + d.toString())));
      call.on('end', () => call.end());
    },
  } as unknown as grpc.UntypedServiceImplementation);
  const gport = await new Promise<number>((res, rej) => grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => e ? rej(e) : res(p)));

  store = new Store();
  const cm = clusterManager(store);
  cm.addOrUpdate(staticCluster('web', [up.port]));
  cm.addOrUpdate(staticCluster('ws', [(wsHttp.address() as AddressInfo).port]));
  cm.addOrUpdate(staticCluster('grpc', [gport], H2_OPTIONS));
  cm.addOrUpdate(staticCluster('dead', [await deadPort()]));

  const hcm = parse(HCM, {
    stat_prefix: 'ingress',
    codec_type: 'AUTO',
    upgrade_configs: [{ upgrade_type: 'websocket' }],
    route_config: {
      name: 'local',
      virtual_hosts: [{
        name: 'all', domains: ['*'],
        routes: [
          { match: { prefix: '/t.E/' }, route: { cluster: 'grpc' } },
          { match: { prefix: '/ws' }, route: { cluster: 'ws' } },
          { match: { prefix: '/dead' }, route: { cluster: 'dead' } },
          { match: { prefix: '/flaky' }, route: { cluster: 'web', retry_policy: { retry_on: '5xx', retry_back_off: { base_interval: '0.001s' } } } },
          { match: { prefix: '/' }, route: { cluster: 'web' }, request_headers_to_add: [{ header: { key: 'x-route-added', value: 'yes' } }] },
        ],
      }],
    },
    http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
  });
  const f = lookup<NetworkFilterFactory>('network_filter', HCM)!;
  factory = f.create({ '@type': `type.googleapis.com/${HCM}`, ...hcm }, { path: 'hcm', clusterManager: cm, stats: store, log: quietLog });
  listener = net.createServer((sock) => {
    conns.add(sock);
    sock.on('close', () => conns.delete(sock));
    const ci = info(sock);
    const c = new ActiveConnection(sock, ci, new StreamInfo(ci), undefined, 1024 * 1024, null, { onConnectionClosed() {} }, quietLog);
    c.start([factory]);
  });
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', () => r()));
  port = (listener.address() as AddressInfo).port;
});

after(async () => {
  for (const s of conns) s.destroy();
  await new Promise<void>((r) => listener.close(() => r()));
  factory.destroy?.();
  teardownPools();
  for (const u of ups) await u.close();
  wsHttp.closeAllConnections();
  await new Promise<void>((r) => wsHttp.close(() => r()));
  grpcServer.forceShutdown();
});

test('HTTP/1.1 through the HCM: GET and POST', async () => {
  const r = await request(port, { path: '/hello' });
  assert.equal(r.status, 200);
  assert.equal(r.body, 'GET /hello 0 yes');
  assert.equal(r.headers['x-upstream'], '1');
  const p = await request(port, { method: 'POST', path: '/post', body: 'x'.repeat(100_000), headers: { 'content-length': '100000' } });
  assert.equal(p.body, 'POST /post 100000 yes');
  assert.ok(counter(store, 'cluster.web.upstream_rq_200') >= 2);
  assert.ok(counter(store, 'http.ingress.rq_total') >= 2);
});

test('retry through the HCM', async () => {
  const r = await request(port, { path: '/flaky' });
  assert.equal(r.status, 200);
  assert.ok(counter(store, 'cluster.web.upstream_rq_retry') >= 1);
});

test('connect failure through the HCM: 503 with the Envoy body', async () => {
  const r = await request(port, { path: '/dead' });
  assert.equal(r.status, 503);
  assert.equal(r.body, 'upstream connect error or disconnect/reset before headers. reset reason: connection failure');
});

test('WebSocket through the HCM', async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  const msg = await new Promise<string>((resolve, reject) => {
    ws.on('open', () => ws.send('hi'));
    ws.on('message', (m) => resolve(m.toString()));
    ws.on('error', reject);
  });
  assert.equal(msg, 'echo:hi');
  ws.close();
});

test('gRPC (h2c downstream) through the HCM: unary and bidi', async () => {
  const Ctor = grpc.makeGenericClientConstructor(SERVICE, 'E');
  const client = new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as grpc.Client & Record<string, Function>;
  try {
    const res = await new Promise<Buffer>((resolve, reject) => client.echo(Buffer.from('x'), (e: Error | null, r: Buffer) => e ? reject(e) : resolve(r)));
    assert.equal(res.toString(), 'grpc:x');
    const call = client.chat() as grpc.ClientDuplexStream<Buffer, Buffer>;
    const got: string[] = [];
    call.on('data', (d: Buffer) => got.push(d.toString()));
    call.write(Buffer.from('a'));
    call.write(Buffer.from('b'));
    call.end();
    await new Promise<void>((res2, rej) => { call.on('end', () => res2()); call.on('error', rej); });
    assert.deepEqual(got, ['re:a', 're:b']);
  } finally {
    client.close();
  }
});

test('h2c downstream to an HTTP/1.1 upstream through the HCM', async () => {
  const c = http2.connect(`http://127.0.0.1:${port}`);
  try {
    const req = c.request({ ':path': '/via-h2', ':authority': 'x' });
    const chunks: Buffer[] = [];
    const headers = await new Promise<http2.IncomingHttpHeaders>((res) => req.on('response', res));
    req.on('data', (d: Buffer) => chunks.push(d));
    await new Promise((r) => req.on('end', r));
    assert.equal(headers[':status'], 200);
    assert.equal(Buffer.concat(chunks).toString(), 'GET /via-h2 0 yes');
  } finally {
    c.close();
  }
});

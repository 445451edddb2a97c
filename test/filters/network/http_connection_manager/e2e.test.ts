// End to end through a real remora Server: listener manager -> HCM -> router filter ->
// cluster manager -> a real upstream on loopback. Checks the HCM's Envoy-visible behaviour
// with the real router: no-route 404, connect failure 503, gRPC mapping, HTTP/2 downstream,
// hardening (a rejected request never reaches the upstream), stats.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import { startRemora, startUpstream, deadPort, request, type Remora, type Upstream } from '../../../integration/helpers';
import { rawExchange, parseRaw } from './harness';

let remora: Remora;
let up: Upstream;
let dead: number;
let port = 0;

before(async () => {
  up = await startUpstream('svc');
  dead = await deadPort();
  const endpoint = (p: number) => ({ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: p } } } }] });
  remora = await startRemora({
    static_resources: {
      listeners: [{
        name: 'http', address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
        filter_chains: [{
          filters: [{
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
              stat_prefix: 'ingress',
              route_config: {
                name: 'local',
                virtual_hosts: [{
                  name: 'svc', domains: ['svc.local', 'svc.local:*'],
                  routes: [
                    { match: { prefix: '/dead' }, route: { cluster: 'dead' } },
                    { match: { prefix: '/' }, route: { cluster: 'svc' } },
                  ],
                }],
              },
              http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
            },
          }],
        }],
      }],
      clusters: [
        { name: 'svc', connect_timeout: '1s', type: 'STATIC', load_assignment: { cluster_name: 'svc', endpoints: [endpoint(up.port)] } },
        { name: 'dead', connect_timeout: '1s', type: 'STATIC', load_assignment: { cluster_name: 'dead', endpoints: [endpoint(dead)] } },
      ],
    },
  });
  port = remora.port('http');
});

after(async () => {
  await remora?.close();
  await up?.close();
});

const c = (name: string) => remora.store.counters.get(`http.ingress.${name}`)?.value ?? 0;

test('routed request reaches the upstream with Envoy request headers', async () => {
  const r = await request(port, '/hello?x=1', { headers: { host: 'svc.local' } });
  assert.equal(r.status, 200);
  assert.equal(r.body, 'svc GET /hello?x=1');
  assert.equal(r.headers['server'], 'envoy');
  assert.ok(r.headers['x-envoy-upstream-service-time'] !== undefined);
  const seen = up.seen[up.seen.length - 1];
  assert.equal(seen.headers['host'], 'svc.local');
  assert.equal(seen.headers['x-forwarded-proto'], 'http');
  assert.match(String(seen.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  assert.ok(c('downstream_rq_2xx') >= 1);
});

test('no route: 404 with an empty body (NR); gRPC gets grpc-status 12', async () => {
  const r = await request(port, '/x', { headers: { host: 'other.local' } });
  assert.equal(r.status, 404);
  assert.equal(r.body, '');
  assert.ok(c('no_route') >= 1);
  const g = await request(port, '/pkg.Svc/M', { method: 'POST', headers: { host: 'other.local', 'content-type': 'application/grpc' } });
  assert.equal(g.status, 200);
  assert.equal(g.headers['grpc-status'], '12');
});

test('upstream connect failure: 503 with the Envoy body', async () => {
  const r = await request(port, '/dead', { headers: { host: 'svc.local' } });
  assert.equal(r.status, 503);
  assert.match(r.body, /^upstream connect error or disconnect\/reset before headers\. reset reason: connection failure/);
  assert.equal(r.headers['content-type'], 'text/plain');
});

test('HTTP/2 (prior knowledge) downstream on the same listener', async () => {
  const client = http2.connect(`http://127.0.0.1:${port}`);
  try {
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = client.request({ ':path': '/h2', ':authority': 'svc.local' });
      let status = 0;
      let body = '';
      req.on('response', (h) => { status = Number(h[':status']); });
      req.on('data', (d) => { body += d; });
      req.on('end', () => resolve({ status, body }));
      req.on('error', reject);
    });
    assert.equal(res.status, 200);
    assert.equal(res.body, 'svc GET /h2');
  } finally { client.close(); }
});

test('a smuggling attempt (CL + TE) is rejected before the router: the upstream never sees it', async () => {
  const before = up.seen.length;
  const r = await rawExchange(port, 'POST / HTTP/1.1\r\nHost: svc.local\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: svc.local\r\n\r\n');
  assert.equal(parseRaw(r.text).status, 400);
  assert.ok(r.closed);
  await new Promise((res) => setTimeout(res, 50));
  assert.equal(up.seen.length, before);
  assert.ok(c('downstream_cx_protocol_error') >= 1);
});

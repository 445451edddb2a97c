// The Server class in-process (src/server/server.ts): start/bind on port 0, validate mode,
// config errors with full field paths, state, shutdown.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { Server } from '../../src/server/server';
import { Store } from '../../src/stats/stats';
import { ConfigError } from '../../src/config/errors';
import { setLogLevel } from '../../src/common/log';
import { basicBootstrap } from './proc';
import { get, post, request, startUpstream, type Upstream } from '../integration/helpers';

setLogLevel('error');
const ups: Upstream[] = [];
after(async () => { for (const u of ups) await u.close(); });

async function backend(): Promise<Upstream> {
  const u = await startUpstream('backend');
  ups.push(u);
  return u;
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(true));
  });
}

test('start(): listeners and admin bound on port 0, state LIVE; shutdown(): DRAINING, ports closed, exit handler called once', async () => {
  const up = await backend();
  const server = new Server({ configYaml: basicBootstrap(up.port), drainTimeS: 1 }, new Store());
  assert.equal(server.state, 'PRE_INITIALIZING');
  await server.start();
  assert.equal(server.state, 'LIVE');
  const [l] = server.listenerManager.listeners();
  assert.equal(l.name, 'ingress');
  assert.ok(l.port > 0);
  assert.equal(l.localAddress, `127.0.0.1:${l.port}`);
  const admin = server.admin!.port;
  assert.ok(admin > 0);
  assert.equal((await get(l.port, '/x')).body, 'backend GET /x');
  assert.equal((await get(admin, '/ready')).body, 'LIVE\n');

  const codes: number[] = [];
  server.setExitHandler((c) => codes.push(c));
  await Promise.all([server.shutdown(3, true), server.shutdown(4, true)]);
  assert.equal(server.state, 'DRAINING');
  assert.deepEqual(codes, [3]);
  assert.equal(await refused(l.port), true);
  assert.equal(await refused(admin), true);
});

test('start(false) (validate mode): everything is built, nothing listens, no admin', async () => {
  const up = await backend();
  const server = new Server({ configYaml: basicBootstrap(up.port) }, new Store());
  await server.start(false);
  const [l] = server.listenerManager.listeners();
  assert.equal(l.name, 'ingress');
  assert.equal(l.port, 0);
  assert.equal(server.admin, undefined);
  assert.ok(server.clusterManager.get('backend'));
  server.clusterManager.shutdown();
  server.listenerManager.close();
});

async function startError(yaml: string): Promise<ConfigError> {
  let server: Server | undefined;
  try {
    server = new Server({ configYaml: yaml }, new Store());
    await server.start(false);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e;
  } finally {
    server?.clusterManager?.shutdown();
    server?.listenerManager?.close();
  }
  assert.fail('config was accepted');
}

test('config errors name the full field path', async () => {
  const base = basicBootstrap(1);
  const enumErr = await startError(base.replace('    type: STATIC\n', '    type: STATIC\n    lb_policy: ROUND_ROBN\n'));
  assert.equal(enumErr.message, 'static_resources.clusters[0].lb_policy: unknown enum value "ROUND_ROBN"');
  const route = await startError(base.replace('route: { cluster: backend, timeout: 60s }', 'route: { cluster: nowhere }'));
  assert.equal(route.path, 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[0].route.cluster');
  assert.match(route.detail, /unknown cluster 'nowhere'/);
  const hf = await startError(base.replace('type.googleapis.com/envoy.extensions.filters.http.router.v3.Router', 'type.googleapis.com/acme.Nope'));
  assert.equal(hf.path, 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters[0]');
  assert.match(hf.detail, /'type\.googleapis\.com\/acme\.Nope'/);
  const dup = await startError(`${base}  - name: backend\n    type: STATIC\n`);
  assert.equal(dup.message, "static_resources.clusters[1]: cluster manager: duplicate cluster 'backend'");
});

test('/healthcheck/fail: /ready, /server_info and server.state/server.live follow Envoy', async () => {
  const up = await backend();
  const store = new Store();
  const server = new Server({ configYaml: basicBootstrap(up.port), drainTimeS: 1 }, store);
  await server.start();
  try {
    const admin = server.admin!.port;
    assert.equal(server.serverState(), 'LIVE');
    await post(admin, '/healthcheck/fail');
    assert.equal(server.state, 'LIVE');
    assert.equal(server.serverState(), 'DRAINING');
    assert.equal((await get(admin, '/ready')).status, 503);
    server.refreshServerStats();
    assert.equal(store.gauge('server.live').value, 0);
    assert.equal(store.gauge('server.state').value, 1);
    await post(admin, '/healthcheck/ok');
    server.refreshServerStats();
    assert.equal(store.gauge('server.live').value, 1);
    assert.equal(store.gauge('server.state').value, 0);
    assert.equal((await request(admin, '/ready')).body, 'LIVE\n');
  } finally {
    await server.shutdown(0, false);
  }
});

test('a plain bootstrap object works without YAML', async () => {
  const up = await backend();
  const server = new Server({
    drainTimeS: 1,
    bootstrap: {
      static_resources: {
        clusters: [{ name: 'c', type: 'STATIC', connect_timeout: 1000, load_assignment: { cluster_name: 'c', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: up.port } } } }] }] } }],
        listeners: [{
          name: 'tcp', address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
          filter_chains: [{ filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: 'tcp', cluster: 'c' } }] }],
        }],
      },
    },
  }, new Store());
  await server.start();
  try {
    assert.equal((await get(server.listenerManager.listeners()[0].port, '/via-tcp')).body, 'backend GET /via-tcp');
  } finally {
    await server.shutdown(0, false);
  }
});

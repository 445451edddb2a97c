import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import type { AdminServer } from '../../src/admin';
import { startAdmin } from '../../src/admin';
import { fakeProviders, start, get, post, request, type Fake } from './helpers';

let fake: Fake;
let admin: AdminServer;
let port = 0;

before(async () => {
  fake = fakeProviders(undefined, {
    clustersText: () => 'outbound|80||web::observability_name::outbound|80||web\n',
    clustersJson: () => ({ cluster_statuses: [{ name: 'outbound|80||web', added_via_api: true }] }),
    runtime: () => ({ entries: { 'a.b': { final_value: '1', layer_values: ['1', ''] } }, layers: ['static', 'admin'] }),
    runtimeModify: (kv) => {
      if (kv.bad !== undefined) throw new Error('runtime rejected bad');
      fake.calls.runtimeModify.push(kv);
    },
    certs: () => ({ certificates: [{ ca_cert: [], cert_chain: [{ path: '<inline>', serial_number: '1' }] }] }),
    extraHandlers: new Map<string, never>([
      ['/xds_status', ((_req: unknown, res: { end: (s: string) => void }) => res.end('xds ok')) as never],
      ['/poke', { help: 'poke something', mutatesState: true, handler: (_req: unknown, res: { end: (s: string) => void }) => res.end('poked') } as never],
    ]),
  });
  admin = await start(fake);
  port = admin.port;
});

after(async () => { await admin.close(); });

const MUTATING = ['/healthcheck/fail', '/healthcheck/ok', '/drain_listeners', '/quitquitquit', '/logging', '/reset_counters', '/runtime_modify', '/reopen_logs', '/poke'];

test('/help and / list every endpoint in Envoy layout, sorted, with (POST) and params', async () => {
  const r = await get(port, '/help');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'text/plain; charset=UTF-8');
  assert.equal(r.headers['cache-control'], 'no-cache, max-age=0');
  assert.equal(r.headers['x-content-type-options'], 'nosniff');
  const lines = r.body.split('\n');
  assert.equal(lines[0], 'admin commands are:');
  assert.ok(lines.includes('  /: Admin home page'));
  assert.ok(lines.includes('  /quitquitquit (POST): exit the server'));
  assert.ok(lines.includes('  /ready: print server state, return 200 if LIVE, otherwise return 503'));
  assert.ok(lines.includes('  /listeners: print listener info'));
  assert.ok(lines.includes('      format: File format to use; One of (text, json)'));
  assert.ok(lines.includes('      level: desired logging level; One of (, trace, debug, info, warning, error, critical, off)'));
  assert.ok(lines.includes('  /poke (POST): poke something'));
  const paths = lines.filter((l) => l.startsWith('  /')).map((l) => l.slice(2).split(/[: ]/)[0]);
  assert.deepEqual(paths, [...paths].sort());
  for (const m of MUTATING) assert.ok(lines.some((l) => l.startsWith(`  ${m} (POST): `)), m);
  for (const p of ['/certs', '/clusters', '/config_dump', '/help', '/hot_restart_version', '/memory', '/runtime', '/server_info', '/stats', '/stats/prometheus', '/xds_status']) {
    assert.ok(paths.includes(p), p);
  }
  const home = await get(port, '/');
  assert.equal(home.status, 200);
  assert.equal(home.body, r.body);
});

test('unknown paths answer 404 with "invalid path. " and the help text', async () => {
  const help = (await get(port, '/help')).body;
  for (const path of ['/nope', '/stats/', '/STATS', '/help/x', '/statsprometheus']) {
    const r = await get(port, path);
    assert.equal(r.status, 404, path);
    assert.equal(r.body, 'invalid path. ' + help);
  }
});

test('mutating endpoints answer GET with 405 and Envoy\'s message, and work with POST', async () => {
  for (const m of MUTATING) {
    const r = await get(port, m);
    assert.equal(r.status, 405, m);
    assert.equal(r.body, 'Method GET not allowed, POST required.');
    const put = await request(port, m, { method: 'PUT' });
    assert.equal(put.body, 'Method PUT not allowed, POST required.');
  }
  assert.equal(fake.calls.healthcheckFail + fake.calls.healthcheckOk + fake.calls.quit + fake.calls.drain.length, 0);
  const poke = await post(port, '/poke');
  assert.equal(poke.body, 'poked');
  const xds = await get(port, '/xds_status');
  assert.equal(xds.body, 'xds ok');
});

test('/healthcheck/fail and /healthcheck/ok drive /ready', async () => {
  assert.deepEqual(await get(port, '/ready').then((r) => [r.status, r.body]), [200, 'LIVE\n']);
  const fail = await post(port, '/healthcheck/fail');
  assert.deepEqual([fail.status, fail.body], [200, 'OK\n']);
  assert.equal(fake.calls.healthcheckFail, 1);
  assert.deepEqual(await get(port, '/ready').then((r) => [r.status, r.body]), [503, 'DRAINING\n']);
  const ok = await post(port, '/healthcheck/ok');
  assert.deepEqual([ok.status, ok.body], [200, 'OK\n']);
  assert.equal(fake.calls.healthcheckOk, 1);
  assert.equal((await get(port, '/ready')).status, 200);
});

test('/ready reports PRE_INITIALIZING and INITIALIZING with 503', async () => {
  for (const s of ['PRE_INITIALIZING', 'INITIALIZING'] as const) {
    fake.state.value = s;
    const r = await get(port, '/ready');
    assert.deepEqual([r.status, r.body], [503, `${s}\n`]);
  }
  fake.state.value = 'LIVE';
});

test('/drain_listeners passes inboundonly/graceful/skip_exit; skip_exit needs graceful', async () => {
  fake.calls.drain.length = 0;
  assert.equal((await post(port, '/drain_listeners')).body, 'OK\n');
  assert.equal((await post(port, '/drain_listeners?inboundonly&graceful')).body, 'OK\n');
  assert.equal((await post(port, '/drain_listeners?graceful&skip_exit&inboundonly')).body, 'OK\n');
  const bad = await post(port, '/drain_listeners?skip_exit');
  assert.deepEqual([bad.status, bad.body], [400, 'skip_exit requires graceful\n']);
  assert.deepEqual(fake.calls.drain, [
    { inboundOnly: false, graceful: false, skipExit: false },
    { inboundOnly: true, graceful: true, skipExit: false },
    { inboundOnly: true, graceful: true, skipExit: true },
  ]);
});

test('/quitquitquit answers OK and then calls quit()', async () => {
  const r = await post(port, '/quitquitquit');
  assert.deepEqual([r.status, r.body], [200, 'OK\n']);
  for (let i = 0; i < 50 && fake.calls.quit === 0; i++) await new Promise((res) => setTimeout(res, 10));
  assert.equal(fake.calls.quit, 1);
});

test('/server_info is ServerInfo JSON, pretty printed like Envoy', async () => {
  const r = await get(port, '/server_info');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/json');
  assert.ok(r.body.startsWith('{\n "version": "0.1.0/node-v20/RELEASE/OpenSSL-3",\n "state": "LIVE",\n'), r.body);
  const j = JSON.parse(r.body);
  assert.deepEqual(Object.keys(j), ['version', 'state', 'uptime_current_epoch', 'uptime_all_epochs', 'hot_restart_version', 'command_line_options', 'node', 'native_path']);
  assert.equal(j.uptime_current_epoch, '12s');
  assert.equal(j.hot_restart_version, 'disabled');
  assert.equal(j.command_line_options.drain_time, '600s');
  assert.equal(j.node.id, 'sidecar~10.0.0.1~web.ns~ns.svc.cluster.local');
  assert.equal(j.native_path, 'js');
});

test('/memory, /certs, /hot_restart_version, /runtime', async () => {
  const m = JSON.parse((await get(port, '/memory')).body);
  assert.deepEqual(Object.keys(m), ['allocated', 'heap_size', 'pageheap_unmapped', 'pageheap_free', 'total_thread_cache', 'total_physical_bytes']);
  for (const v of Object.values(m)) assert.match(v as string, /^\d+$/);
  assert.ok(Number(m.allocated) > 0 && Number(m.total_physical_bytes) > 0);

  const c = await get(port, '/certs');
  assert.equal(c.headers['content-type'], 'application/json');
  assert.equal(JSON.parse(c.body).certificates[0].cert_chain[0].serial_number, '1');

  const h = await get(port, '/hot_restart_version');
  assert.deepEqual([h.status, h.body], [200, 'disabled']);

  const rt = await get(port, '/runtime');
  assert.deepEqual(JSON.parse(rt.body).layers, ['static', 'admin']);
});

test('/runtime_modify applies overrides via POST (query or form); usage and provider errors', async () => {
  assert.equal((await post(port, '/runtime_modify?a=1&b=')).body, 'OK\n');
  assert.equal((await post(port, '/runtime_modify', 'c=3&d=%20x', { 'content-type': 'application/x-www-form-urlencoded' })).body, 'OK\n');
  assert.deepEqual(fake.calls.runtimeModify, [{ a: '1', b: '' }, { c: '3', d: ' x' }]);
  const usage = await post(port, '/runtime_modify');
  assert.equal(usage.status, 400);
  assert.ok(usage.body.startsWith('usage: /runtime_modify?key1=value1&key2=value2&keyN=valueN\n'));
  const bad = await post(port, '/runtime_modify?bad=1');
  assert.deepEqual([bad.status, bad.body], [503, 'runtime rejected bad']);
});

test('/listeners prints name::address per socket, ?format=json prints ListenerStatus', async () => {
  const t = await get(port, '/listeners');
  assert.equal(t.body, 'virtualOutbound::0.0.0.0:15001\nv6::[::]:8080\nv6::0.0.0.0:8080\ntext::127.0.0.1:9000\n');
  const j = await get(port, '/listeners?format=json');
  assert.equal(j.headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse(j.body), {
    listener_statuses: [
      { name: 'virtualOutbound', local_address: { socket_address: { address: '0.0.0.0', port_value: 15001 } } },
      {
        name: 'v6', local_address: { socket_address: { address: '::', port_value: 8080 } },
        additional_local_addresses: [{ socket_address: { address: '0.0.0.0', port_value: 8080 } }],
      },
      { name: 'text', local_address: { socket_address: { address: '127.0.0.1', port_value: 9000 } } },
    ],
  });
});

test('/clusters text and ?format=json come from the providers', async () => {
  const t = await get(port, '/clusters');
  assert.equal(t.body, 'outbound|80||web::observability_name::outbound|80||web\n');
  const j = await get(port, '/clusters?format=json');
  assert.equal(j.headers['content-type'], 'application/json');
  assert.equal(j.body, '{\n "cluster_statuses": [\n  {\n   "name": "outbound|80||web",\n   "added_via_api": true\n  }\n ]\n}');
});

test('bad query strings and odd request targets never break the server', async () => {
  for (const path of ['/stats?%', '/stats?filter=%ZZ%', '/stats?&&&=&=x', '/stats?filter=%E2%82', '/ready?%00=%00',
    '/listeners?format=%', '/config_dump?resource=&mask=&name_regex=', '/server_info?' + 'x'.repeat(20000)]) {
    const r = await get(port, path);
    assert.ok(r.status === 200 || r.status === 400 || r.status === 404, `${path}: ${r.status}`);
  }
  const abs = await get(port, 'http://example.com/ready');
  assert.deepEqual([abs.status, abs.body], [200, 'LIVE\n']);
  const head = await request(port, '/ready', { method: 'HEAD' });
  assert.deepEqual([head.status, head.body], [200, '']);
  const frag = await get(port, '/ready#frag');
  assert.equal(frag.status, 200);
});

test('a malformed HTTP request gets 400 and the server keeps serving', async () => {
  const raw = await new Promise<string>((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write('GARBAGE\r\n\r\n'));
    let data = '';
    s.on('data', (d) => { data += d.toString(); });
    s.on('close', () => resolve(data));
    s.on('error', reject);
    s.setTimeout(5000, () => s.destroy());
  });
  assert.match(raw, /^HTTP\/1\.1 400/);
  assert.equal((await get(port, '/ready')).status, 200);
});

test('a POST body over 1 MiB is refused with 413', async () => {
  const r = await post(port, '/runtime_modify', 'a=' + 'x'.repeat((1 << 20) + 10), { 'content-type': 'application/x-www-form-urlencoded' });
  assert.equal(r.status, 413);
});

test('a throwing provider yields 500 and the server keeps serving', async () => {
  const f = fakeProviders(undefined, { clustersText: () => { throw new Error('boom'); } });
  const a = await start(f);
  try {
    const r = await get(a.port, '/clusters');
    assert.deepEqual([r.status, r.body], [500, 'error: boom\n']);
    assert.equal((await get(a.port, '/ready')).status, 200);
  } finally {
    await a.close();
  }
});

test('without optional providers: empty clusters, no certs, empty runtime, runtime_modify unavailable', async () => {
  const f = fakeProviders();
  const a = await start(f);
  try {
    assert.equal((await get(a.port, '/clusters')).body, '');
    assert.equal((await get(a.port, '/clusters?format=json')).body, '{}');
    assert.equal((await get(a.port, '/certs')).body, '{\n "certificates": []\n}');
    assert.equal((await get(a.port, '/runtime')).body, '{\n "entries": {},\n "layers": []\n}');
    const rm = await post(a.port, '/runtime_modify?x=1');
    assert.equal(rm.status, 503);
    assert.equal((await post(a.port, '/reopen_logs')).body, 'OK\n');
  } finally {
    await a.close();
  }
});

test('startAdmin rejects when the port is taken; close() is idempotent', async () => {
  const f = fakeProviders();
  await assert.rejects(startAdmin({ address: '127.0.0.1', port }, f.providers), /EADDRINUSE/);
  const a = await start(f);
  await a.close();
  await a.close();
});

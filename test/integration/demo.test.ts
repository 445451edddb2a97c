// `npm start`: the demo (dist/src/demo/main.js) as a child process on its fixed ports
// (listener 10000, admin 9901, xDS 18000, reviews 9081-9083). The only test that uses those ports.
//  - default: xDS. remora's bootstrap has only admin/node/dynamic_resources; the in-process
//    control plane serves the listener, routes, EDS clusters and endpoints, and shifts the
//    /reviews weights every REMORA_DEMO_SHIFT_MS (500 ms here) like a canary rollout.
//  - --static: the static-bootstrap demo (/reviews split 50/50 between v1 and v3).
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { REPO, get, until } from './helpers';
import { DEMO_PORTS } from '../../src/demo/main';
import { CANARY_STEPS, REVIEWS_VERSIONS } from '../../src/demo/xds';

const children = new Set<ChildProcess>();
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** A failed test must not leave the demo (and its ports) to the next one. */
async function killDemo(d: Demo): Promise<void> {
  if (d.exited()) return;
  d.child.kill('SIGKILL');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([d.exit, new Promise((r) => { timer = setTimeout(r, 5000); })]);
  clearTimeout(timer);
  // the upstreams child exits when its parent's IPC channel closes
  await until(async () => (await Promise.all(PORTS.map(refused))).every(Boolean), 5000, 'demo ports released').catch(() => undefined);
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(true));
  });
}

const PORTS = [DEMO_PORTS.listener, DEMO_PORTS.admin, DEMO_PORTS.xds, DEMO_PORTS.v1, DEMO_PORTS.v2, DEMO_PORTS.v3];

interface Demo {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exited: () => boolean;
}

async function startDemo(args: string[], env: NodeJS.ProcessEnv): Promise<Demo> {
  for (const p of PORTS) assert.equal(await refused(p), true, `port ${p} is already in use: the demo test needs it`);
  let stdout = '';
  let stderr = '';
  let exited = false;
  const child = spawn(process.execPath, [path.join(REPO, 'dist', 'src', 'demo', 'main.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  children.add(child);
  child.stdout!.on('data', (c) => { stdout += c; });
  child.stderr!.on('data', (c) => { stderr += c; });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => { exited = true; resolve({ code, signal }); });
  });
  await until(async () => {
    if (exited) throw new Error(`demo exited: ${stderr}`);
    const r = await get(DEMO_PORTS.admin, '/ready').catch(() => undefined);
    return r?.status === 200;
  }, 20_000, 'demo admin /ready');
  return { child, out: () => stdout, err: () => stderr, exit, exited: () => exited };
}

/** SIGTERM: exit code 0 within 15 s, then every port is released (the upstreams child and the control plane included). */
async function stopDemo(d: Demo): Promise<void> {
  d.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([d.exit, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('demo did not exit')), 15_000); })]);
  clearTimeout(timer);
  assert.deepEqual(result, { code: 0, signal: null }, d.err());
  await until(async () => (await Promise.all(PORTS.map(refused))).every(Boolean), 5000, 'demo ports released');
}

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The route config remora serves now (admin /config_dump): its version and the /reviews weights. */
async function activeRoute(): Promise<{ version: string; weights: Record<string, number> }> {
  const r = await get(DEMO_PORTS.admin, '/config_dump?resource=dynamic_route_configs');
  assert.equal(r.status, 200, r.body);
  const configs: Json[] = JSON.parse(r.body).configs;
  assert.equal(configs.length, 1, r.body);
  const rc = configs[0].route_config;
  assert.equal(rc.name, 'local_route');
  const reviews = rc.virtual_hosts[0].routes.find((x: Json) => x.match?.prefix === '/reviews');
  const weights: Record<string, number> = {};
  for (const c of reviews.route.weighted_clusters.clusters) weights[String(c.name).replace(/^reviews-/, '')] = Number(c.weight ?? 0);
  return { version: String(configs[0].version_info), weights };
}

const key = (w: Record<string, number | undefined>) => REVIEWS_VERSIONS.map((v) => `${v}=${w[v] ?? 0}`).join(',');
const STEP_KEYS = CANARY_STEPS.map((s) => key(s.weights));

test('the xDS demo: canary rollout over ADS; /reviews follows the current weights, shifts are seen, SIGTERM exits 0', async (t) => {
  const d = await startDemo([], { REMORA_DEMO_SHIFT_MS: '500' });
  t.after(() => killDemo(d));
  const L = DEMO_PORTS.listener;
  const A = DEMO_PORTS.admin;
  assert.match(d.out(), /remora demo is running: listener http:\/\/127\.0\.0\.1:10000, admin http:\/\/127\.0\.0\.1:9901/);
  assert.match(d.out(), /control plane on 127\.0\.0\.1:18000/);
  assert.ok(d.out().includes(`curl -s 127.0.0.1:${A}/xds_status`), d.out());
  assert.ok(d.out().includes(`curl -s '127.0.0.1:${A}/config_dump?resource=dynamic_route_configs'`), d.out());

  // Everything but the xDS cluster came over ADS.
  const dump = JSON.parse((await get(A, '/config_dump')).body) as { configs: Json[] };
  const of = (t: string) => dump.configs.find((c) => c['@type'] === `type.googleapis.com/envoy.admin.v3.${t}`) ?? {};
  const boot = of('BootstrapConfigDump').bootstrap;
  assert.deepEqual(boot.static_resources.clusters.map((c: Json) => c.name), ['xds_cluster']);
  assert.equal(boot.static_resources.listeners, undefined);
  assert.deepEqual(of('ClustersConfigDump').dynamic_active_clusters.map((c: Json) => c.cluster.name).sort(), ['reviews-v1', 'reviews-v2', 'reviews-v3']);
  assert.deepEqual(of('ListenersConfigDump').dynamic_listeners.map((l: Json) => l.name), ['ingress']);
  const xs = JSON.parse((await get(A, '/xds_status')).body);
  assert.equal(xs.connected, true);
  assert.equal(xs.initialized, true);
  assert.deepEqual(xs.types.map((t: Json) => t.type_url.split('.').pop()).sort(), ['ClusterLoadAssignment', 'Cluster', 'Listener', 'RouteConfiguration'].sort());
  for (const t of xs.types) assert.equal(t.last_nack, undefined, JSON.stringify(t));
  assert.deepEqual(xs.types.find((t: Json) => t.type_url.endsWith('ClusterLoadAssignment')).subscribed, ['reviews-v1', 'reviews-v2', 'reviews-v3']);

  // Sample /reviews between two reads of the active route config: when both reads show the
  // same version, the request was routed with exactly those weights.
  const seen = new Map<string, Map<string, number>>(); // weights key -> version -> count
  const versionWeights = new Map<string, string>(); // route version -> weights key
  let reviewsRequests = 0;
  let ambiguous = 0;
  const done = () => STEP_KEYS.every((k) => {
    const m = seen.get(k);
    if (!m) return false;
    const total = [...m.values()].reduce((a, b) => a + b, 0);
    const wanted = Object.keys(CANARY_STEPS[STEP_KEYS.indexOf(k)].weights);
    return total >= 3 && wanted.every((v) => (m.get(v) ?? 0) > 0);
  });
  const deadline = Date.now() + 25_000;
  for (let i = 0; i < 3000 && !done(); i++) {
    assert.ok(Date.now() < deadline, `rollout not observed within 25 s: ${JSON.stringify([...seen].map(([k, m]) => [k, [...m]]))}`);
    const before = await activeRoute();
    const r = await get(L, '/reviews');
    reviewsRequests++;
    const after = await activeRoute();
    assert.equal(r.status, 200, r.body);
    const v = String(r.headers['x-reviews-version']);
    assert.equal(JSON.parse(r.body).version, v);
    const k = key(before.weights);
    assert.ok(STEP_KEYS.includes(k), `unexpected weights ${k}`);
    versionWeights.set(before.version, k);
    versionWeights.set(after.version, key(after.weights));
    if (before.version !== after.version) { ambiguous++; continue; }
    assert.ok(before.weights[v] > 0, `route version ${before.version} (${k}) sent /reviews to ${v}`);
    const m = seen.get(k) ?? new Map<string, number>();
    m.set(v, (m.get(v) ?? 0) + 1);
    seen.set(k, m);
  }
  assert.ok(done(), 'sampling loop bound reached');
  assert.ok(ambiguous < reviewsRequests, `${ambiguous} of ${reviewsRequests}`);

  // The shifts follow the rollout order: route version n+1 carries the step after version n's.
  const versions = [...versionWeights.keys()].map(Number).sort((a, b) => a - b);
  assert.ok(versions.length >= CANARY_STEPS.length, `versions seen: ${versions}`);
  let consecutive = 0;
  for (const n of versions) {
    const next = versionWeights.get(String(n + 1));
    if (next === undefined) continue;
    consecutive++;
    const i = STEP_KEYS.indexOf(versionWeights.get(String(n))!);
    assert.equal(next, STEP_KEYS[(i + 1) % STEP_KEYS.length], `route version ${n} -> ${n + 1}`);
  }
  assert.ok(consecutive >= 3, `versions seen: ${versions}`);
  // ... and the demo printed each step with the version it pushed.
  const printed = [...d.out().matchAll(/\[canary\] step (\d)\/5, route version (\d+): \/reviews -> (.*)\n/g)];
  assert.ok(printed.length >= CANARY_STEPS.length, d.out());
  for (const [, step, version, text] of printed) {
    const w = versionWeights.get(version);
    if (w !== undefined) assert.equal(w, STEP_KEYS[Number(step) - 1], `printed step ${step} for version ${version}`);
    assert.equal(text, Object.entries(CANARY_STEPS[Number(step) - 1].weights).map(([v, x]) => `${v} ${x}%`).join(' / '));
  }

  // Fixed routes next to the canary: /v2/ always reaches v2 (prefix_rewrite), / answers directly.
  const v2 = await get(L, '/v2/');
  assert.equal(v2.status, 200);
  assert.equal(v2.headers['x-reviews-version'], 'v2');
  assert.equal(JSON.parse(v2.body).path, '/reviews/');
  assert.equal((await get(L, '/')).body, 'remora demo: try /reviews\n');

  // /clusters: the EDS clusters, their endpoints from the ClusterLoadAssignments, traffic counted.
  const clusters = (await get(A, '/clusters')).body;
  for (const v of REVIEWS_VERSIONS) {
    const port = DEMO_PORTS[v];
    assert.ok(clusters.includes(`reviews-${v}::added_via_api::true\n`), clusters);
    const m = new RegExp(`^reviews-${v}::127\\.0\\.0\\.1:${port}::rq_success::(\\d+)$`, 'm').exec(clusters);
    assert.ok(m && Number(m[1]) > 0, `reviews-${v} rq_success: ${clusters}`);
  }

  await stopDemo(d);
  // The stdout access log has a line per request (flushed at the latest on exit).
  assert.equal((d.out().match(/"GET \/reviews HTTP\/1\.1" 200 - /g) ?? []).length, reviewsRequests);
});

test('the static demo (--static): /reviews splits between v1 and v3 (never v2), /v2/ reaches v2, SIGTERM exits 0', async (t) => {
  const d = await startDemo(['--static'], {});
  t.after(() => killDemo(d));
  assert.match(d.out(), /remora demo \(static bootstrap\) is running: listener http:\/\/127\.0\.0\.1:10000, admin http:\/\/127\.0\.0\.1:9901/);

  const L = DEMO_PORTS.listener;
  const versions: Record<string, number> = {};
  for (let i = 0; i < 40; i++) {
    const r = await get(L, '/reviews');
    assert.equal(r.status, 200);
    const v = String(r.headers['x-reviews-version']);
    assert.equal(JSON.parse(r.body).version, v);
    versions[v] = (versions[v] ?? 0) + 1;
  }
  assert.deepEqual(Object.keys(versions).sort(), ['v1', 'v3'], JSON.stringify(versions));
  assert.equal(versions.v1 + versions.v3, 40);

  const v2 = await get(L, '/v2/');
  assert.equal(v2.status, 200);
  assert.equal(v2.headers['x-reviews-version'], 'v2');
  const body = JSON.parse(v2.body);
  assert.equal(body.path, '/reviews/'); // prefix_rewrite "/v2/" -> "/reviews/"
  assert.equal(body.reviews[0].rating.color, 'black');
  assert.equal((await get(L, '/')).body, 'remora demo: try /reviews\n');

  const clusters = (await get(DEMO_PORTS.admin, '/clusters')).body;
  assert.ok(clusters.includes(`reviews-v1::127.0.0.1:${DEMO_PORTS.v1}::rq_success::${versions.v1}\n`), clusters);
  assert.ok(clusters.includes(`reviews-v2::127.0.0.1:${DEMO_PORTS.v2}::rq_success::1\n`));
  assert.ok(clusters.includes(`reviews-v3::127.0.0.1:${DEMO_PORTS.v3}::rq_success::${versions.v3}\n`));
  assert.equal((await get(DEMO_PORTS.admin, '/xds_status')).status, 404);

  await stopDemo(d);
  assert.equal((d.out().match(/"GET \/reviews HTTP\/1\.1" 200 - /g) ?? []).length, 40);
});

// `node dist/bench/xds/scale.js [clusters] [endpoints-per-cluster] [--delta]`
// (defaults 10000 and 5, SotW ADS): how fast remora takes a large xDS config and what it costs
// in memory. The control plane (TestControlPlane, in this process) serves N EDS clusters, N
// ClusterLoadAssignments with E endpoints each, one RouteConfiguration with N routes (prefix
// /svc-<i>/ -> svc-<i>, plus /ok direct_response) and one listener (HCM with rds).
// remora runs as a child process pinned to core 0, so its RSS is its own (/proc/<pid>/status).
//
//  push:  remora starts with empty CDS/LDS, goes LIVE, idles 3 s (RSS_idle), then the control
//         plane pushes everything at once; time until every type is ACKed and the listener
//         serves /ok (then checked: N+1 active clusters, none warming); RSS_after 3 s later.
//  cold:  a second remora starts against the loaded control plane; time from spawn until every
//         type is ACKed and the server is LIVE (admin /ready 200), and its RSS.
// bytes per cluster = (RSS_after - RSS_idle) / N, to compare with Envoy's ~72 kB (envoy#4196).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TestControlPlane } from '../../src/xds/control_plane';
import { TYPE } from '../../src/xds/types';
import { demoListener, edsCluster } from '../../src/demo/xds';
import { MB, freePort, httpGet, machine, procMemory, sleep, startRemora, topSelfTime, type RemoraProc } from './common';

const TYPES = [
  ['CDS', TYPE.CLUSTER],
  ['EDS', TYPE.ENDPOINT],
  ['LDS', TYPE.LISTENER],
  ['RDS', TYPE.ROUTE],
] as const;

const ROUTE_NAME = 'local_route';

function cla(i: number, endpoints: number): Record<string, unknown> {
  const lb = [];
  for (let j = 0; j < endpoints; j++) {
    lb.push({ endpoint: { address: { socket_address: { address: `10.${1 + (i >> 8)}.${i & 255}.${j + 1}`, port_value: 8080 } } } });
  }
  return { cluster_name: `svc-${i}`, endpoints: [{ lb_endpoints: lb }] };
}

function routeConfig(n: number): Record<string, unknown> {
  const routes: object[] = [];
  for (let i = 0; i < n; i++) routes.push({ match: { prefix: `/svc-${i}/` }, route: { cluster: `svc-${i}` } });
  routes.push({ match: { path: '/ok' }, direct_response: { status: 200, body: { inline_string: 'ok\n' } } });
  return { name: ROUTE_NAME, virtual_hosts: [{ name: 'all', domains: ['*'], routes }] };
}

async function stat(r: RemoraProc, name: string): Promise<number> {
  const body = (await httpGet(r.adminPort, `/stats?filter=${encodeURIComponent(`^${name.replace(/\./g, '\\.')}$`)}`, 60_000)).body;
  const m = /: (\d+)\s*$/m.exec(body);
  return m ? Number(m[1]) : NaN;
}

/** Every type ACKed at its current version by a request logged from `from` on (times of the ACKs, ms since t0). */
async function acks(cp: TestControlPlane, from: number, t0: number, timeoutMs: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  await Promise.all(TYPES.map(async ([k, t]) => {
    const version = cp.version(t);
    const r = await cp.waitForRequest((q) => q.typeUrl === t && !q.errorDetail && q.responseNonce !== '' && cp.responseFor(q.stream, q.responseNonce)?.version === version, timeoutMs, from);
    out[k] = r.time - t0;
  }));
  return out;
}

/** Poll GET /ok on the listener every 25 ms until 200; resolves with Date.now() then. */
async function serving(port: number, timeoutMs: number): Promise<number> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const r = await httpGet(port, '/ok', 10_000).catch(() => ({ status: 0, body: '' }));
    if (r.status === 200) return Date.now();
    if (Date.now() > end) throw new Error(`listener not serving /ok within ${timeoutMs} ms (${r.status})`);
    await sleep(25);
  }
}

/** Until N+1 clusters are active, none warming, and the listener is active. */
async function converged(r: RemoraProc, n: number, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (let i = 0; ; i++) {
    const [active, warming, listeners] = [await stat(r, 'cluster_manager.active_clusters'), await stat(r, 'cluster_manager.warming_clusters'), await stat(r, 'listener_manager.total_listeners_active')];
    if (active === n + 1 && (warming === 0 || Number.isNaN(warming)) && listeners === 1) return;
    if (Date.now() > end || r.exited()) throw new Error(`not converged: active_clusters ${active}, warming ${warming}, listeners ${listeners}: ${r.stderrTail()}`);
    await sleep(i < 20 ? 25 : 100);
  }
}

interface Mem { rss: number; hwm: number; heap: number; rssGc: number; heapGc: number }

/** RSS / peak RSS / heap as they are, then again after a full GC (through the inspector). */
async function measure(r: RemoraProc): Promise<Mem> {
  const m = procMemory(r.pid);
  const heap = await r.heapAllocated();
  await r.inspector!.gc();
  await sleep(500);
  const g = procMemory(r.pid);
  return { rss: m.rss, hwm: m.hwm, heap, rssGc: g.rss, heapGc: await r.heapAllocated() };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const delta = args.includes('--delta');
  const nums = args.filter((a) => !a.startsWith('--'));
  const n = parseInt(nums[0] ?? '10000', 10);
  const e = parseInt(nums[1] ?? '5', 10);
  const apiType = delta ? 'DELTA_GRPC' : 'GRPC';
  const profileOut = process.env.BENCH_CPU_PROFILE; // write remora's CPU profile of the push here
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'remora-xds-scale-'));
  const cp = new TestControlPlane({ autoPush: false, logLimit: 1000 });
  const { port: cpPort } = await cp.start();
  const listenerPort = await freePort();
  const procs: RemoraProc[] = [];
  const timeoutMs = 180_000;
  console.log(`xDS scale: ${n} EDS clusters x ${e} endpoints, ${n} CLAs, 1 RouteConfiguration with ${n + 1} routes, 1 listener; ADS ${delta ? 'delta' : 'SotW'}`);
  console.log(`machine: ${machine()}; remora pinned to core 0, control plane (this process) unpinned`);
  try {
    // Empty full-state types: the first CDS/LDS responses are empty and remora goes LIVE.
    cp.setResources(TYPE.CLUSTER, []);
    cp.setResources(TYPE.LISTENER, []);
    const idle = await startRemora(dir, cpPort, { core: '0', apiType, inspectPort: await freePort() });
    procs.push(idle);
    await idle.waitLive(30_000);
    await sleep(3000);
    const memIdle = await measure(idle);

    // Encode every resource (control-plane work, not timed), then push at once.
    let t = Date.now();
    cp.setResources(TYPE.ENDPOINT, Array.from({ length: n }, (_, i) => ({ json: cla(i, e) })));
    cp.setResources(TYPE.CLUSTER, Array.from({ length: n }, (_, i) => ({ json: edsCluster(`svc-${i}`) })));
    cp.setResources(TYPE.ROUTE, [{ json: routeConfig(n) }]);
    cp.setResources(TYPE.LISTENER, [{ json: demoListener(listenerPort, { accessLog: false }) }]);
    const encodeMs = Date.now() - t;
    if (profileOut) {
      await idle.inspector!.send('Profiler.enable');
      await idle.inspector!.send('Profiler.setSamplingInterval', { interval: 500 });
      await idle.inspector!.send('Profiler.start');
    }
    const t0 = Date.now();
    cp.push();
    const pushAcks = await acks(cp, 0, t0, timeoutMs);
    const pushDone = (await serving(listenerPort, timeoutMs)) - t0;
    let profileTop: string[] = [];
    if (profileOut) {
      const { profile } = await idle.inspector!.send('Profiler.stop');
      fs.writeFileSync(profileOut, JSON.stringify(profile));
      profileTop = topSelfTime(profile, 25);
    }
    await converged(idle, n, timeoutMs);
    await sleep(3000);
    const memAfter = await measure(idle);
    await idle.kill();

    // Cold start against the loaded control plane.
    const from = cp.requestCount();
    t = Date.now();
    const cold = await startRemora(dir, cpPort, { core: '0', apiType, inspectPort: await freePort() });
    procs.push(cold);
    const coldAcks = await acks(cp, from, t, timeoutMs);
    const live = (await cold.waitLive(timeoutMs)) - t;
    await converged(cold, n, timeoutMs);
    await sleep(3000);
    const memCold = await measure(cold);
    await cold.kill();

    const kB = (b: number) => `${(b / n / 1024).toFixed(1)} kB`;
    const fmtAcks = (a: Record<string, number>) => TYPES.map(([k]) => `${k} ${a[k]}`).join(', ');
    const row = (m: Mem) => `${MB(m.rss)} | ${MB(m.hwm)} | ${MB(m.heap)} | ${MB(m.rssGc)} | ${MB(m.heapGc)}`;
    console.log(`control plane encode of ${3 * n + 2} resources: ${encodeMs} ms (not included below)`);
    console.log('');
    console.log('| run | ACKed (ms after start/push) | all applied (ms) | RSS MB | peak RSS MB | heap MB | RSS after full GC MB | heap after full GC MB |');
    console.log('|---|---|---|---|---|---|---|---|');
    console.log(`| idle (empty CDS/LDS) | | | ${row(memIdle)} |`);
    console.log(`| push to running remora | ${fmtAcks(pushAcks)} | ${pushDone} (serving /ok) | ${row(memAfter)} |`);
    console.log(`| cold start (spawn -> LIVE) | ${fmtAcks(coldAcks)} | ${live} (LIVE) | ${row(memCold)} |`);
    console.log('');
    console.log(`per cluster (push run minus idle, / ${n}): RSS ${kB(memAfter.rss - memIdle.rss)}, RSS after full GC ${kB(memAfter.rssGc - memIdle.rssGc)},` +
      ` live heap ${kB(memAfter.heapGc - memIdle.heapGc)}; Envoy: ~72 kB per cluster (envoy#4196)`);
    if (profileTop.length) console.log(`\nremora CPU profile of the push (${profileOut}), top self time:\n${profileTop.join('\n')}`);
  } finally {
    for (const p of procs) await p.kill();
    await cp.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });

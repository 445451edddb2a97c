// `node dist/bench/xds/churn.js [seconds] [push-interval-ms]` (defaults 10 and 100): requests/s
// through remora while the control plane churns EDS, compared with no pushes.
// remora (child process, pinned to core 0) gets everything over ADS from the TestControlPlane
// in this process: listener (HCM with rds), route / -> cluster "upstream" (EDS). The upstream
// is nginx `return 200` with a 1 KB body on four loopback ports (1 worker, core 1, with wrk).
// During the churn phase the control plane replaces the ClusterLoadAssignment of "upstream"
// every interval, alternating between two disjoint endpoint sets {p1, p2} and {p3, p4}, so
// every push removes every host in use; all endpoints are real upstreams, so any non-2xx or
// socket error is remora's. A second churn phase keeps the same four hosts and alternates
// their load_balancing_weight (EDS processing without host churn). wrk -t1 -c32 -d<seconds>s,
// 2 s warm-up; phases: no pushes, endpoint-set pushes, weight pushes, no pushes again.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { TestControlPlane } from '../../src/xds/control_plane';
import { TYPE } from '../../src/xds/types';
import { demoListener, edsCluster, loopbackCla } from '../../src/demo/xds';
import { freePort, has, httpGet, machine, pinned, procCpuSeconds, sleep, startRemora, wrk, type RemoraProc, type WrkResult } from './common';

const BODY_1K = 'x'.repeat(1024);
const CLUSTER = 'upstream';

function nginxConf(dir: string, ports: number[]): string {
  const conf = path.join(dir, 'upstream.conf');
  fs.writeFileSync(conf, `worker_processes 1; daemon off; pid ${dir}/up.pid; error_log ${dir}/up.err warn;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; keepalive_timeout 120s;
  server { ${ports.map((p) => `listen 127.0.0.1:${p} backlog=4096;`).join(' ')} location / { default_type text/plain; return 200 "${BODY_1K}"; } } }
`);
  return conf;
}

async function waitHttp(port: number, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const r = await httpGet(port, '/').catch(() => ({ status: 0 }));
    if (r.status === 200) return;
    if (Date.now() > end) throw new Error(`nothing answers 200 on port ${port}`);
    await sleep(50);
  }
}

async function stats(r: RemoraProc): Promise<Map<string, number>> {
  const body = (await httpGet(r.adminPort, `/stats?filter=${encodeURIComponent(`^(cluster\\.${CLUSTER}\\.|http\\.ingress_http\\.downstream_rq_)`)}`)).body;
  const out = new Map<string, number>();
  for (const line of body.split('\n')) {
    const m = /^(\S+): (\d+)$/.exec(line);
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

interface Phase { name: string; w: WrkResult; cpuS: number; pushes: number; acks: number; nacks: number; d: Map<string, number> }

async function main(): Promise<void> {
  const seconds = parseInt(process.argv[2] ?? '10', 10);
  const intervalMs = parseInt(process.argv[3] ?? '100', 10);
  const conns = 32;
  if (!has('wrk') || !has('nginx')) throw new Error('needs wrk and nginx (apt-get install wrk nginx-light)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'remora-xds-churn-'));
  const cp = new TestControlPlane({ logLimit: 100_000 });
  let nginx: ChildProcess | undefined;
  let remora: RemoraProc | undefined;
  let timer: NodeJS.Timeout | undefined;
  console.log(`xDS churn: wrk -t1 -c${conns} -d${seconds}s through remora to nginx (1 KB), EDS push every ${intervalMs} ms alternating {p1,p2} / {p3,p4}`);
  console.log(`machine: ${machine()}; remora on core 0; wrk + nginx on core 1; control plane (this process) unpinned`);
  try {
    const ups = [await freePort(), await freePort(), await freePort(), await freePort()];
    const [cmd, args] = pinned('1', 'nginx', ['-p', dir, '-c', nginxConf(dir, ups)]);
    nginx = spawn(cmd, args, { stdio: 'ignore', detached: true });
    for (const p of ups) await waitHttp(p);

    const { port: cpPort } = await cp.start();
    const listenerPort = await freePort();
    const sets = [[ups[0], ups[1]], [ups[2], ups[3]]];
    cp.setResources(TYPE.ENDPOINT, [{ json: loopbackCla(CLUSTER, sets[0]) }]);
    cp.setResources(TYPE.CLUSTER, [{ json: { ...edsCluster(CLUSTER), circuit_breakers: { thresholds: [{ max_connections: 1000000, max_pending_requests: 1000000, max_requests: 1000000 }] } } }]);
    cp.setResources(TYPE.ROUTE, [{ json: { name: 'local_route', virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: CLUSTER } }] }] } }]);
    cp.setResources(TYPE.LISTENER, [{ json: demoListener(listenerPort, { accessLog: false }) }]);
    remora = await startRemora(dir, cpPort, { core: '0' });
    await remora.waitLive(30_000);
    await waitHttp(listenerPort);

    await wrk(listenerPort, 2, conns, '1'); // warm-up
    const phases: Phase[] = [];
    // The same four hosts with alternating load_balancing_weight: EDS processing without host churn.
    const weighted = (w: number) => ({
      cluster_name: CLUSTER,
      endpoints: [{ lb_endpoints: ups.map((port, i) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } }, load_balancing_weight: i % 2 ? w : 1 })) }],
    });
    const run = async (name: string, churn: 'none' | 'sets' | 'weights') => {
      let pushes = 0;
      let which = 0;
      const fromReq = cp.requestCount();
      const s0 = await stats(remora!);
      const cpu0 = procCpuSeconds(remora!.pid);
      if (churn !== 'none') {
        timer = setInterval(() => {
          which ^= 1;
          cp.setResources(TYPE.ENDPOINT, [{ json: churn === 'sets' ? loopbackCla(CLUSTER, sets[which]) : weighted(1 + which) }]);
          pushes++;
        }, intervalMs);
      }
      const w = await wrk(listenerPort, seconds, conns, '1');
      if (timer) clearInterval(timer);
      timer = undefined;
      await sleep(300); // the last ACK
      const cpuS = procCpuSeconds(remora!.pid) - cpu0;
      const s1 = await stats(remora!);
      const d = new Map<string, number>();
      for (const [k, v] of s1) d.set(k, v - (s0.get(k) ?? 0));
      let acks = 0;
      let nacks = 0;
      for (let i = Math.max(0, fromReq); i < cp.requestCount(); i++) {
        const q = cp.requests[i - (cp.requestCount() - cp.requests.length)];
        if (!q || q.typeUrl !== TYPE.ENDPOINT || !q.responseNonce) continue;
        if (q.errorDetail) nacks++;
        else acks++;
      }
      phases.push({ name, w, cpuS, pushes, acks, nacks, d });
      await sleep(500);
    };
    await run('no pushes', 'none');
    await run(`EDS push every ${intervalMs} ms, endpoint sets {p1,p2} <-> {p3,p4}`, 'sets');
    await run(`EDS push every ${intervalMs} ms, same 4 hosts, weights 1,1,1,1 <-> 1,2,1,2`, 'weights');
    await run('no pushes (again)', 'none');

    console.log('');
    console.log('| phase | req/s | p50 ms | p99 ms | requests | non-2xx | socket errors | EDS pushes / ACKs / NACKs | remora CPU µs/req | upstream_cx_total | upstream_rq_5xx |');
    console.log('|---|---|---|---|---|---|---|---|---|---|---|');
    for (const p of phases) {
      const us = p.w.requests > 0 ? ((p.cpuS / p.w.requests) * 1e6).toFixed(1) : '–';
      console.log(`| ${p.name} | ${p.w.rps.toFixed(0)} | ${p.w.p50ms.toFixed(2)} | ${p.w.p99ms.toFixed(2)} | ${p.w.requests} | ${p.w.non2xx} | ${p.w.socketErrors} | ${p.pushes} / ${p.acks} / ${p.nacks} | ${us} | ${p.d.get(`cluster.${CLUSTER}.upstream_cx_total`) ?? '?'} | ${p.d.get(`cluster.${CLUSTER}.upstream_rq_5xx`) ?? '?'} |`);
    }
    const base = (phases[0].w.rps + phases[3].w.rps) / 2;
    console.log('');
    console.log(`requests/s vs the mean of the no-push phases: endpoint sets ${(phases[1].w.rps / base).toFixed(2)}x, weights only ${(phases[2].w.rps / base).toFixed(2)}x`);
    const errs = phases.reduce((a, p) => a + p.w.non2xx + p.w.socketErrors, 0);
    if (errs > 0) {
      console.log(`ERRORS: ${errs} non-2xx/socket errors`);
      for (const p of phases) {
        const bad = [...p.d].filter(([k, v]) => v > 0 && /5xx|reset|fail|timeout|overflow|none_healthy|cancel|destroy_with/.test(k));
        console.log(`  ${p.name}: ${bad.map(([k, v]) => `${k}=${v}`).join(', ') || '(no failure stats)'}`);
        console.log(p.w.raw.split('\n').filter((l) => /error|Non-2xx/i.test(l)).map((l) => '    ' + l.trim()).join('\n'));
      }
    }
  } finally {
    if (timer) clearInterval(timer);
    await remora?.kill();
    if (nginx?.pid) { try { process.kill(-nginx.pid, 'SIGKILL'); } catch { /* gone */ } }
    await cp.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });

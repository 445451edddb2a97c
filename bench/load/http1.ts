// `node dist/bench/load/http1.js [seconds]`: HTTP/1.1 keep-alive GET, 1 KB body, wrk -c64.
// Prints a table: rps, p50, p99 for direct / remora / nginx / haproxy, and the ratios.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  LoadResult, Procs, runWrk, toolsAvailable, waitPort, procCpuSeconds, sleep,
  writeNginxUpstream, writeNginxProxy, writeHaproxy, writeRemoraBootstrap,
} from './harness';

export async function benchHttp1(seconds = 10, conns = 64): Promise<LoadResult[]> {
  const tools = toolsAvailable();
  if (!tools.wrk || !tools.nginx) throw new Error('bench needs wrk and nginx (apt-get install wrk nginx-light haproxy)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'remora-bench-'));
  const procs = new Procs();
  const UP = 18100, REMORA = 18101, NGINX = 18102, HAPROXY = 18103, ADMIN = 18109;
  const results: LoadResult[] = [];
  const main = path.join(__dirname, '..', '..', 'src', 'main.js');
  try {
    procs.spawn('1', 'nginx', ['-p', dir, '-c', writeNginxUpstream(dir, UP)]);
    await waitPort(UP);
    const targets: Array<[string, number, () => number | undefined]> = [['direct', UP, () => undefined]];
    const remora = procs.spawn('0', process.execPath, [main, '-c', writeRemoraBootstrap(dir, REMORA, UP, ADMIN), '--concurrency', '1', '-l', 'warning']);
    targets.push(['remora', REMORA, () => remora.pid]);
    const ngx = procs.spawn('0', 'nginx', ['-p', dir, '-c', writeNginxProxy(dir, NGINX, UP)]);
    targets.push(['nginx', NGINX, () => ngx.pid]);
    if (tools.haproxy) {
      const hap = procs.spawn('0', 'haproxy', ['-f', writeHaproxy(dir, HAPROXY, UP), '-db']);
      targets.push(['haproxy', HAPROXY, () => hap.pid]);
    }
    for (const [name, port, pid] of targets) {
      await waitPort(port);
      runWrk(port, 2, conns); // warm-up
      const p = pid();
      const cpu0 = p ? procCpuSeconds(p) : NaN;
      const r = runWrk(port, seconds, conns);
      const cpu = p ? procCpuSeconds(p) - cpu0 : undefined;
      results.push({ name, ...r, cpuS: cpu });
      await sleep(500);
    }
  } finally {
    await procs.killAll();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

export function formatTable(results: LoadResult[], seconds: number): string {
  const by = (n: string) => results.find((r) => r.name === n);
  const lines = ['| target | req/s | p50 ms | p99 ms | errors | proxy CPU µs/req |', '|---|---|---|---|---|---|'];
  for (const r of results) {
    const cpuPerReq = r.cpuS !== undefined && r.rps > 0 ? ((r.cpuS / (r.rps * seconds)) * 1e6).toFixed(1) : '–';
    lines.push(`| ${r.name} | ${r.rps.toFixed(0)} | ${r.p50ms.toFixed(2)} | ${r.p99ms.toFixed(2)} | ${r.errors} | ${cpuPerReq} |`);
  }
  const rem = by('remora');
  if (rem) {
    const ratio = (o?: LoadResult) => (o ? (rem.rps / o.rps).toFixed(2) + '×' : '–');
    lines.push('', `remora/direct ${ratio(by('direct'))} · remora/nginx ${ratio(by('nginx'))} · remora/haproxy ${ratio(by('haproxy'))} (requests/s)`);
  }
  return lines.join('\n');
}

if (require.main === module) {
  const seconds = parseInt(process.argv[2] ?? '10', 10);
  benchHttp1(seconds).then((r) => {
    console.log(`HTTP/1.1 keep-alive GET, 1 KB body, wrk -t1 -c64 -d${seconds}s; proxies pinned to core 0, wrk+upstream on core 1; ${os.cpus()[0]?.model ?? ''}`);
    console.log(formatTable(r, seconds));
  }).catch((e) => { console.error(e); process.exit(1); });
}

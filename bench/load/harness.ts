// Loopback load comparison: direct vs remora vs nginx vs haproxy, in ONE run, on the
// same fixed-cost upstream (nginx `return 200` with a 1 KB body).
// CPU pinning (taskset): every proxy gets core 0; wrk and the upstream share core 1.
// Only 127.0.0.1 is used. Every process is bounded in time and killed at the end.
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export interface LoadResult { name: string; rps: number; p50ms: number; p99ms: number; errors: number; cpuS?: number; }

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function toolsAvailable(): { wrk: boolean; nginx: boolean; haproxy: boolean; taskset: boolean } {
  return { wrk: has('wrk'), nginx: has('nginx'), haproxy: has('haproxy'), taskset: has('taskset') };
}

function pinned(core: string, cmd: string, args: string[]): [string, string[]] {
  return has('taskset') && os.cpus().length > 1 ? ['taskset', ['-c', core, cmd, ...args]] : [cmd, args];
}

async function waitPort(port: number, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const ok = await new Promise<boolean>((res) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); res(true); });
      s.once('error', () => res(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`port ${port} did not open`);
}

function statOf(pid: number): { ppid: number; cpu: number } | undefined {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const parts = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(parts[1]), cpu: (Number(parts[11]) + Number(parts[12])) / 100 }; // utime + stime
  } catch { return undefined; }
}

/** CPU seconds of a process plus its direct children (nginx/haproxy workers, taskset's child). */
function procCpuSeconds(pid: number): number {
  const own = statOf(pid);
  if (!own) return NaN;
  let total = own.cpu;
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const st = statOf(Number(d));
    if (st && st.ppid === pid) total += st.cpu;
  }
  return total;
}

function parseLatency(s: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(s.trim());
  if (!m) return NaN;
  const v = parseFloat(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

export function runWrk(port: number, seconds: number, conns: number, pathname = '/'): Omit<LoadResult, 'name'> {
  const [cmd, args] = pinned('1', 'wrk', ['-t1', `-c${conns}`, `-d${seconds}s`, '--latency', `http://127.0.0.1:${port}${pathname}`]);
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: (seconds + 30) * 1000 });
  const out = r.stdout || '';
  const rps = parseFloat(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 'NaN');
  const p50 = parseLatency(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? '');
  const p99 = parseLatency(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? '');
  const non2xx = parseInt(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? '0', 10);
  const sockErr = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = non2xx + (sockErr ? sockErr.slice(1).reduce((a, b) => a + parseInt(b, 10), 0) : 0);
  return { rps, p50ms: p50, p99ms: p99, errors };
}

const BODY_1K = 'x'.repeat(1024);

export class Procs {
  private list: ChildProcess[] = [];
  spawn(core: string | null, cmd: string, args: string[], env?: NodeJS.ProcessEnv): ChildProcess {
    const [c, a] = core === null ? [cmd, args] : pinned(core, cmd, args);
    // Own process group, so killAll() also reaches nginx/haproxy workers.
    const p = spawn(c, a, { stdio: ['ignore', 'ignore', 'pipe'], env: env ?? process.env, detached: true });
    p.stderr?.on('data', (d) => { if (process.env.BENCH_VERBOSE) process.stderr.write(d); });
    this.list.push(p);
    return p;
  }
  async killAll(): Promise<void> {
    const group = (p: ChildProcess, sig: NodeJS.Signals) => { try { if (p.pid) process.kill(-p.pid, sig); } catch { /* gone */ } };
    for (const p of this.list) group(p, 'SIGTERM');
    await sleep(500);
    for (const p of this.list) group(p, 'SIGKILL');
    await sleep(100);
    this.list = [];
  }
}

export function writeNginxUpstream(dir: string, port: number): string {
  const conf = path.join(dir, 'upstream.conf');
  fs.writeFileSync(conf, `worker_processes 1; daemon off; pid ${dir}/up.pid; error_log ${dir}/up.err warn;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; keepalive_timeout 120s;
  server { listen 127.0.0.1:${port} reuseport backlog=4096; location / { default_type text/plain; return 200 "${BODY_1K}"; } } }
`);
  return conf;
}

export function writeNginxProxy(dir: string, port: number, upstreamPort: number): string {
  const conf = path.join(dir, 'proxy.conf');
  fs.writeFileSync(conf, `worker_processes 1; daemon off; pid ${dir}/px.pid; error_log ${dir}/px.err warn;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; keepalive_timeout 120s;
  upstream up { server 127.0.0.1:${upstreamPort}; keepalive 128; keepalive_requests 1000000; }
  server { listen 127.0.0.1:${port} backlog=4096; location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
`);
  return conf;
}

export function writeHaproxy(dir: string, port: number, upstreamPort: number): string {
  const conf = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(conf, `global
  nbthread 1
  maxconn 4000
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  http-reuse always
frontend fe
  bind 127.0.0.1:${port}
  default_backend be
backend be
  server up1 127.0.0.1:${upstreamPort}
`);
  return conf;
}

export function writeRemoraBootstrap(dir: string, port: number, upstreamPort: number, adminPort: number): string {
  const file = path.join(dir, 'remora.yaml');
  fs.writeFileSync(file, `admin:
  address: { socket_address: { address: 127.0.0.1, port_value: ${adminPort} } }
static_resources:
  listeners:
  - name: bench
    address: { socket_address: { address: 127.0.0.1, port_value: ${port} } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: bench
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes: [{ match: { prefix: "/" }, route: { cluster: upstream } }]
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
  clusters:
  - name: upstream
    connect_timeout: 1s
    type: STATIC
    circuit_breakers: { thresholds: [{ max_connections: 1000000, max_pending_requests: 1000000, max_requests: 1000000 }] }
    load_assignment:
      cluster_name: upstream
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${upstreamPort} } } } }] }]
`);
  return file;
}

export { waitPort, procCpuSeconds, sleep, has };

// Shared pieces of the xDS benchmarks (bench/xds/scale.ts, bench/xds/churn.ts): remora as a
// child process (its own RSS, from /proc/<pid>/status) with an xDS-only bootstrap pointing at
// an in-process TestControlPlane, admin requests, an asynchronous wrk (the control plane keeps
// pushing while wrk runs, so wrk must not block this process's event loop).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import WebSocket from 'ws';
import { xdsBootstrapYaml } from '../../src/demo/xds';

export const REMORA_MAIN = path.join(__dirname, '..', '..', 'src', 'main.js');

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/** [cmd, args] run on one core with taskset (which execs: the pid stays the command's). */
export function pinned(core: string | null, cmd: string, args: string[]): [string, string[]] {
  return core !== null && has('taskset') && os.cpus().length > 1 ? ['taskset', ['-c', core, cmd, ...args]] : [cmd, args];
}

/** VmRSS and VmHWM (peak RSS) of a process, in bytes. */
export function procMemory(pid: number): { rss: number; hwm: number } {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** user+system CPU seconds of a process. */
export function procCpuSeconds(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const parts = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(parts[11]) + Number(parts[12])) / 100; // utime + stime, in USER_HZ ticks
}

export function httpGet(port: number, p: string, timeoutMs = 10_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => { clearTimeout(t); resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }); });
      res.on('error', (e) => { clearTimeout(t); reject(e); });
    });
    const t = setTimeout(() => req.destroy(new Error(`GET ${p} timed out`)), timeoutMs);
    req.on('error', (e) => { clearTimeout(t); reject(e); });
  });
}

/** A Chrome DevTools protocol session to a process started with --inspect (full GC, CPU profile). */
export class Inspector {
  private id = 0;
  private readonly pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>(); // eslint-disable-line @typescript-eslint/no-explicit-any
  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: { message: string } };
      const p = m.id !== undefined ? this.pending.get(m.id) : undefined;
      if (!p) return;
      this.pending.delete(m.id!);
      if (m.error) p.reject(new Error(m.error.message));
      else p.resolve(m.result);
    });
  }

  static async connect(port: number, timeoutMs = 10_000): Promise<Inspector> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      try {
        const list = JSON.parse((await httpGet(port, '/json/list')).body) as Array<{ webSocketDebuggerUrl: string }>;
        const ws = new WebSocket(list[0].webSocketDebuggerUrl, { maxPayload: 2 ** 31 - 1 });
        await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
        return new Inspector(ws);
      } catch (e) {
        if (Date.now() > end) throw e;
        await sleep(50);
      }
    }
  }

  send<T = any>(method: string, params: object = {}): Promise<T> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const id = ++this.id;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Full (major) GC. */
  gc(): Promise<void> { return this.send('HeapProfiler.collectGarbage'); }

  close(): void { this.ws.terminate(); }
}

export interface RemoraProc {
  proc: ChildProcess;
  pid: number;
  adminPort: number;
  /** Inspector session (startRemora with inspect: true). */
  inspector?: Inspector;
  /** The last lines remora wrote to stderr (for error reports). */
  stderrTail(): string;
  exited(): boolean;
  /** Heap in use (admin /memory "allocated": V8 heapUsed + external), bytes. */
  heapAllocated(): Promise<number>;
  /** Poll admin /ready every `everyMs` until 200 (LIVE); resolves with Date.now() at that poll. */
  waitLive(timeoutMs: number, everyMs?: number): Promise<number>;
  kill(): Promise<void>;
}

/**
 * Start remora (dist/src/main.js) with the xDS-only bootstrap of the demo (admin on an
 * ephemeral port, ADS to `xdsPort`), pinned to `core` when given.
 */
export async function startRemora(dir: string, xdsPort: number, opts: { core?: string | null; apiType?: 'GRPC' | 'DELTA_GRPC'; logLevel?: string; inspectPort?: number } = {}): Promise<RemoraProc> {
  const cfg = path.join(dir, `remora-${Date.now()}.yaml`);
  const addrFile = path.join(dir, `admin-${Date.now()}.txt`);
  fs.writeFileSync(cfg, xdsBootstrapYaml({ admin: 0, xds: xdsPort }, { apiType: opts.apiType }));
  const nodeArgs = opts.inspectPort ? [`--inspect=127.0.0.1:${opts.inspectPort}`] : [];
  const [cmd, args] = pinned(opts.core ?? null, process.execPath, [...nodeArgs, REMORA_MAIN, '-c', cfg, '--admin-address-path', addrFile, '-l', opts.logLevel ?? 'warning', '--concurrency', '1']);
  const proc = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let tail = '';
  let exited = false;
  proc.stderr!.on('data', (d: Buffer) => {
    tail = (tail + d.toString('utf8')).slice(-4000);
    if (process.env.BENCH_VERBOSE) process.stderr.write(d);
  });
  proc.on('exit', () => { exited = true; });
  let adminPort = 0;
  const end = Date.now() + 20_000;
  while (!adminPort) {
    if (exited) throw new Error(`remora exited: ${tail}`);
    if (Date.now() > end) throw new Error(`remora admin did not come up: ${tail}`);
    try {
      const a = fs.readFileSync(addrFile, 'utf8').trim();
      adminPort = Number(a.slice(a.lastIndexOf(':') + 1)) || 0;
    } catch { /* not yet */ }
    if (!adminPort) await sleep(20);
  }
  const r: RemoraProc = {
    proc,
    pid: proc.pid!,
    adminPort,
    stderrTail: () => tail,
    exited: () => exited,
    async heapAllocated() {
      const m = JSON.parse((await httpGet(adminPort, '/memory')).body) as { allocated: string };
      return Number(m.allocated);
    },
    async waitLive(timeoutMs: number, everyMs = 25) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        if (exited) throw new Error(`remora exited: ${tail}`);
        const s = await httpGet(adminPort, '/ready').catch(() => ({ status: 0, body: '' }));
        if (s.status === 200) return Date.now();
        if (Date.now() > until) throw new Error(`remora not LIVE within ${timeoutMs} ms (${s.body.trim()}): ${tail}`);
        await sleep(everyMs);
      }
    },
    async kill() {
      r.inspector?.close();
      if (exited) return;
      try { process.kill(-proc.pid!, 'SIGKILL'); } catch { /* gone */ }
      const t = Date.now() + 5000;
      while (!exited && Date.now() < t) await sleep(20);
    },
  };
  if (opts.inspectPort) r.inspector = await Inspector.connect(opts.inspectPort);
  return r;
}

export interface WrkResult { rps: number; p50ms: number; p99ms: number; requests: number; non2xx: number; socketErrors: number; raw: string }

function parseLatency(s: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(s.trim());
  if (!m) return NaN;
  const v = parseFloat(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

/** wrk -t1 -c<conns> -d<seconds>s --latency, asynchronously (this event loop keeps running). */
export function wrk(port: number, seconds: number, conns: number, core: string | null, pathname = '/'): Promise<WrkResult> {
  const [cmd, args] = pinned(core, 'wrk', ['-t1', `-c${conns}`, `-d${seconds}s`, '--latency', `http://127.0.0.1:${port}${pathname}`]);
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout!.on('data', (d) => { out += d; });
    p.stderr!.on('data', (d) => { out += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), (seconds + 30) * 1000);
    p.on('error', (e) => { clearTimeout(timer); reject(e); });
    p.on('close', () => {
      clearTimeout(timer);
      const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      resolve({
        rps: parseFloat(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 'NaN'),
        p50ms: parseLatency(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? ''),
        p99ms: parseLatency(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? ''),
        requests: parseInt(/(\d+) requests in/.exec(out)?.[1] ?? 'NaN', 10),
        non2xx: parseInt(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? '0', 10),
        socketErrors: sock ? sock.slice(1).reduce((a, b) => a + parseInt(b, 10), 0) : 0,
        raw: out,
      });
    });
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }

/** Top functions by self time of a V8 CPU profile (Profiler.stop result). */
export function topSelfTime(profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }, top = 15): string[] {
  const byId = new Map<number, ProfileNode>();
  for (const n of profile.nodes) byId.set(n.id, n);
  const self = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const n = byId.get(profile.samples[i]);
    const dt = profile.timeDeltas[i] ?? 0;
    total += dt;
    if (!n) continue;
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + dt);
  }
  return [...self].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, us]) => `${(us / 1000).toFixed(0).padStart(6)} ms ${((100 * us) / total).toFixed(1).padStart(5)} %  ${k}`);
}

export const MB = (b: number) => (b / 2 ** 20).toFixed(1);

export function machine(): string {
  return `${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}`;
}

// remora as a child process (bin/remora.js): run a command to completion, or start a
// server and find its admin and listener ports (both bound to port 0).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { BIN, request, type Reply } from '../integration/helpers';

export interface RunResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** Run `node bin/remora.js ...args` to completion (killed after timeoutMs). */
export function runCli(args: string[], timeoutMs = 30_000): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => { stdout += c; });
    child.stderr.on('data', (c) => { stderr += c; });
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => { clearTimeout(t); resolve({ code, signal, stdout, stderr }); });
  });
}

/** A temp dir removed by the returned cleanup. */
export function tempDir(): { dir: string; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'remora-test-'));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export interface Proc {
  child: ChildProcess;
  adminPort: number;
  stdout(): string;
  stderr(): string;
  /** Resolves when the process has exited (with its code/signal). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  running(): boolean;
  admin(p: string, method?: string): Promise<Reply>;
  /** Bound port of a listener, from admin /listeners?format=json. */
  listenerPort(name: string): Promise<number>;
  /** Wait for exit at most timeoutMs; SIGKILL and throw if it does not come. */
  waitExit(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Cleanup: SIGKILL if still running, remove the temp dir. */
  kill(): Promise<void>;
}

/** Start `bin/remora.js ...args --admin-address-path <tmp>` and wait until /ready says LIVE. */
export async function startProc(args: string[], timeoutMs = 15_000): Promise<Proc> {
  const tmp = tempDir();
  const addrFile = path.join(tmp.dir, 'admin.addr');
  const child = spawn(process.execPath, [BIN, ...args, '--admin-address-path', addrFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c) => { stdout += c; });
  child.stderr!.on('data', (c) => { stderr += c; });
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => { done = true; resolve({ code, signal }); });
  });
  const kill = async () => {
    if (!done) { child.kill('SIGKILL'); await exited; }
    tmp.cleanup();
  };
  let adminPort = 0;
  const end = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (done) throw new Error(`remora exited during startup: ${stderr}`);
      if (Date.now() > end) throw new Error(`remora did not start within ${timeoutMs} ms: ${stderr}`);
      if (!adminPort) {
        const text = fs.existsSync(addrFile) ? fs.readFileSync(addrFile, 'utf8') : '';
        const m = /:(\d+)$/.exec(text.trim());
        if (m) adminPort = Number(m[1]);
      }
      if (adminPort) {
        const r = await request(adminPort, '/ready').catch(() => undefined);
        if (r && r.status === 200) break;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  } catch (e) {
    await kill();
    throw e;
  }
  const admin = (p: string, method = 'GET') => request(adminPort, p, { method });
  return {
    child, adminPort, exited, admin, kill,
    stdout: () => stdout,
    stderr: () => stderr,
    running: () => !done,
    async listenerPort(name: string) {
      const r = await admin('/listeners?format=json');
      const ls = (JSON.parse(r.body).listener_statuses ?? []) as Array<{ name: string; local_address: { socket_address: { port_value: number } } }>;
      const l = ls.find((x) => x.name === name);
      if (!l) throw new Error(`no listener ${name} in ${r.body}`);
      return l.local_address.socket_address.port_value;
    },
    async waitExit(ms: number) {
      let t: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => { t = setTimeout(() => reject(new Error(`remora did not exit within ${ms} ms`)), ms); });
      try {
        return await Promise.race([exited, timeout]);
      } catch (e) {
        child.kill('SIGKILL');
        throw e;
      } finally {
        clearTimeout(t);
      }
    },
  };
}

/** A bootstrap with listener `ingress` (127.0.0.1:0) routing everything to cluster `backend`. */
export function basicBootstrap(upstreamPort: number, o: { node?: string; accessLogPath?: string; extraRoutes?: string } = {}): string {
  const accessLog = o.accessLogPath ? `
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${JSON.stringify(o.accessLogPath)}` : '';
  return `${o.node ?? 'node: { id: test-node, cluster: test-cluster }'}
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  listeners:
  - name: ingress
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress_http${accessLog}
          route_config:
            name: local_route
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:${o.extraRoutes ?? ''}
              - match: { prefix: "/" }
                route: { cluster: backend, timeout: 60s }
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
  clusters:
  - name: backend
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: backend
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${upstreamPort} } } }
`;
}

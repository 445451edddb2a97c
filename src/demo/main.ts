// `npm start`: the embedded demo. Three versions of a bookinfo-style `reviews` service run
// in a child process (ports 9081-9083). By default remora (listener 127.0.0.1:10000, admin
// 9901) gets everything over xDS: an in-process control plane on 127.0.0.1:18000 serves the
// listener (HCM with `rds`), the route configuration, three EDS clusters and their
// endpoints, and every 10 s (REMORA_DEMO_SHIFT_MS) shifts the /reviews weights like a
// canary rollout: v1 100 -> v1 50/v2 50 -> v2 100 -> v2 50/v3 50 -> v3 100 -> v1 100 ...
// `npm start -- --static` (or REMORA_DEMO_STATIC=1) runs the static-bootstrap demo instead:
// /reviews split 50/50 between v1 and v3 with weighted_clusters.
import { fork, ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { Server } from '../server/server';
import { setLogLevel } from '../common/log';
import { TYPE } from '../xds/types';
import { CANARY_STEPS, DEMO_LISTENER, DemoControlPlane, describeStep, xdsBootstrapYaml } from './xds';

export const DEMO_PORTS = { listener: 10000, admin: 9901, xds: 18000, v1: 9081, v2: 9082, v3: 9083 };

/** Default interval between canary steps of the xDS demo. */
export const DEFAULT_SHIFT_MS = 10_000;

export function demoBootstrapYaml(p: Omit<typeof DEMO_PORTS, 'xds'> = DEMO_PORTS): string {
  const cluster = (v: string, port: number) => `
  - name: reviews-${v}
    type: STATIC
    connect_timeout: 1s
    lb_policy: ROUND_ROBIN
    load_assignment:
      cluster_name: reviews-${v}
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${port} } } }`;
  return `
node: { id: remora-demo, cluster: demo }
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: ${p.admin} } }
static_resources:
  listeners:
  - name: ingress
    address: { socket_address: { address: 127.0.0.1, port_value: ${p.listener} } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress_http
          access_log:
          - name: envoy.access_loggers.stdout
            typed_config: { "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog }
          route_config:
            name: local_route
            virtual_hosts:
            - name: reviews
              domains: ["*"]
              routes:
              - match: { prefix: "/reviews" }
                route:
                  weighted_clusters:
                    clusters:
                    - { name: reviews-v1, weight: 50 }
                    - { name: reviews-v3, weight: 50 }
              - match: { prefix: "/v2/" }
                route: { cluster: reviews-v2, prefix_rewrite: "/reviews/" }
              - match: { prefix: "/" }
                direct_response: { status: 200, body: { inline_string: "remora demo: try /reviews\\n" } }
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
  clusters:${cluster('v1', p.v1)}${cluster('v2', p.v2)}${cluster('v3', p.v3)}
`;
}

/** REMORA_DEMO_SHIFT_MS (at least 100 ms), else DEFAULT_SHIFT_MS. */
export function shiftIntervalMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.REMORA_DEMO_SHIFT_MS);
  return Number.isFinite(v) && v >= 100 ? Math.floor(v) : DEFAULT_SHIFT_MS;
}

interface Demo {
  server: Server;
  /** After the server drained: stop the control plane and the upstreams. */
  stop: () => Promise<void>;
  /** On SIGTERM/SIGINT, before the drain. */
  beforeShutdown?: () => void;
}

function startUpstreams(): Promise<ChildProcess> {
  const child: ChildProcess = fork(path.join(__dirname, 'upstreams.js'), [String(DEMO_PORTS.v1), String(DEMO_PORTS.v2), String(DEMO_PORTS.v3)], { stdio: 'inherit' });
  return new Promise<ChildProcess>((resolve, reject) => {
    child.once('message', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`reviews upstreams exited with ${code}`)));
  });
}

function tryLines(L: string, A: string): string {
  return `  curl -s ${L}/reviews | head -c 300; echo
  for i in $(seq 1 10); do curl -s -o /dev/null -w '%{http_code} ' -D - ${L}/reviews | grep -i x-reviews-version; done
  curl -s ${L}/v2/                          # prefix_rewrite to reviews-v2
  curl -s ${A}/clusters`;
}

async function runStatic(child: ChildProcess): Promise<Demo> {
  const server = new Server({ configYaml: demoBootstrapYaml(), drainTimeS: 5 });
  await server.start();
  const L = `127.0.0.1:${DEMO_PORTS.listener}`;
  const A = `127.0.0.1:${DEMO_PORTS.admin}`;
  process.stdout.write(`
remora demo (static bootstrap) is running: listener http://${L}, admin http://${A}
reviews v1, v2 and v3 answer on ports ${DEMO_PORTS.v1}, ${DEMO_PORTS.v2}, ${DEMO_PORTS.v3}; /reviews is split 50/50 between v1 and v3.

Try:
${tryLines(L, A)}
  curl -s ${A}/stats | grep upstream_rq_2xx
  curl -s ${A}/stats/prometheus | head
  curl -s ${A}/config_dump | head -40
  curl -s ${A}/ready

Ctrl-C (SIGINT) or SIGTERM drains and exits.
`);
  return { server, stop: async () => { child.kill('SIGTERM'); } };
}

async function runXds(child: ChildProcess): Promise<Demo> {
  const shiftMs = shiftIntervalMs();
  let started = false;
  let firstVersion = '';
  const cp = new DemoControlPlane(DEMO_PORTS, (i, step, version) => {
    if (started) process.stdout.write(`[canary] step ${i + 1}/${CANARY_STEPS.length}, route version ${version}: /reviews -> ${describeStep(step)}\n`);
    else firstVersion = version;
  });
  await cp.start();
  const server = new Server({ configYaml: xdsBootstrapYaml(DEMO_PORTS), drainTimeS: 5 });
  let timer: NodeJS.Timeout | undefined;
  try {
    await server.start();
    await Promise.race([
      server.dynamic?.initialized(),
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('xDS resources not initialized within 20 s')), 20_000); }),
    ]);
    // A listener that cannot bind is logged and dropped (remora stays up, like Envoy); the demo needs it.
    if (!server.listenerManager.listeners().some((l) => l.name === DEMO_LISTENER)) {
      const nack = server.dynamic?.status().find((s) => s.typeUrl === TYPE.LISTENER)?.lastNack;
      throw new Error(`listener "${DEMO_LISTENER}" is not serving on 127.0.0.1:${DEMO_PORTS.listener}: ${nack?.error ?? 'port in use? (see the log above)'}`);
    }
  } catch (e) {
    await server.shutdown(1, false).catch(() => undefined);
    await cp.stop();
    throw e;
  } finally {
    clearTimeout(timer);
  }
  started = true;
  const L = `127.0.0.1:${DEMO_PORTS.listener}`;
  const A = `127.0.0.1:${DEMO_PORTS.admin}`;
  const secs = shiftMs % 1000 === 0 ? `${shiftMs / 1000} s` : `${shiftMs} ms`;
  process.stdout.write(`
remora demo is running: listener http://${L}, admin http://${A}
remora's bootstrap has only admin, node and dynamic_resources: everything else comes over ADS from
the control plane on 127.0.0.1:${DEMO_PORTS.xds} (listener "ingress" with RDS "local_route", EDS clusters
reviews-v1/v2/v3 answering on ports ${DEMO_PORTS.v1}, ${DEMO_PORTS.v2}, ${DEMO_PORTS.v3}).
Every ${secs} the control plane shifts /reviews like a canary rollout:
  v1 100% -> v1 50%/v2 50% -> v2 100% -> v2 50%/v3 50% -> v3 100% -> back to v1
[canary] step 1/${CANARY_STEPS.length}, route version ${firstVersion}: /reviews -> ${describeStep(CANARY_STEPS[0])}

Try:
${tryLines(L, A)}
  curl -s ${A}/xds_status
  curl -s '${A}/config_dump?resource=dynamic_route_configs'
  curl -s ${A}/config_dump | head -40
  curl -s ${A}/stats | grep -E 'upstream_rq_2xx|cds|lds|rds'
  curl -s ${A}/ready

Ctrl-C (SIGINT) or SIGTERM drains and exits. (npm start -- --static runs the static-bootstrap demo.)
`);
  cp.startRollout(shiftMs);
  return { server, stop: async () => { await cp.stop(); child.kill('SIGTERM'); }, beforeShutdown: () => cp.stopRollout() };
}

async function main(): Promise<void> {
  setLogLevel('info');
  const staticMode = process.argv.includes('--static') || /^(1|true|yes)$/i.test(process.env.REMORA_DEMO_STATIC ?? '');
  const child = await startUpstreams();
  let demo: Demo;
  try {
    demo = staticMode ? await runStatic(child) : await runXds(child);
  } catch (e) {
    child.kill('SIGTERM');
    throw e;
  }
  demo.server.setExitHandler((code) => {
    void demo.stop().finally(() => process.exit(code));
  });
  const stop = () => {
    demo.beforeShutdown?.();
    void demo.server.shutdown(0, true);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((e) => { process.stderr.write(`remora demo: ${e instanceof Error ? e.message : e}\n`); process.exit(1); });
}

// `npm start`: the embedded demo. Three versions of a bookinfo-style `reviews`
// service run in a child process; remora listens on 127.0.0.1:10000 (admin 9901)
// and splits /reviews 50/50 between v1 and v3 with weighted_clusters.
import { fork, ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { Server } from '../server/server';
import { setLogLevel } from '../common/log';

export const DEMO_PORTS = { listener: 10000, admin: 9901, v1: 9081, v2: 9082, v3: 9083 };

export function demoBootstrapYaml(p = DEMO_PORTS): string {
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

async function main(): Promise<void> {
  setLogLevel('info');
  const child: ChildProcess = fork(path.join(__dirname, 'upstreams.js'), [String(DEMO_PORTS.v1), String(DEMO_PORTS.v2), String(DEMO_PORTS.v3)], { stdio: 'inherit' });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`reviews upstreams exited with ${code}`)));
  });
  const server = new Server({ configYaml: demoBootstrapYaml(), drainTimeS: 5 });
  await server.start();
  const L = `127.0.0.1:${DEMO_PORTS.listener}`;
  const A = `127.0.0.1:${DEMO_PORTS.admin}`;
  process.stdout.write(`
remora demo is running: listener http://${L}, admin http://${A}
reviews v1, v2 and v3 answer on ports ${DEMO_PORTS.v1}, ${DEMO_PORTS.v2}, ${DEMO_PORTS.v3}; /reviews is split 50/50 between v1 and v3.

Try:
  curl -s ${L}/reviews | head -c 300; echo
  for i in $(seq 1 10); do curl -s -o /dev/null -w '%{http_code} ' -D - ${L}/reviews | grep -i x-reviews-version; done
  curl -s ${L}/v2/                          # prefix_rewrite to reviews-v2
  curl -s ${A}/clusters
  curl -s ${A}/stats | grep upstream_rq_2xx
  curl -s ${A}/stats/prometheus | head
  curl -s ${A}/config_dump | head -40
  curl -s ${A}/ready

Ctrl-C (SIGINT) or SIGTERM drains and exits.
`);
  server.setExitHandler((code) => { child.kill('SIGTERM'); process.exit(code); });
  const stop = () => { void server.shutdown(0, true); };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((e) => { process.stderr.write(`remora demo: ${e instanceof Error ? e.message : e}\n`); process.exit(1); });
}

// The xDS side of the demo: the reviews resources (listener with `rds`, RouteConfiguration,
// three EDS clusters and their ClusterLoadAssignments) served by the in-process
// TestControlPlane, remora's xDS-only bootstrap, and the canary rollout that shifts the
// /reviews weights on a timer: v1 100 -> v1 50/v2 50 -> v2 100 -> v2 50/v3 50 -> v3 100 -> v1 100 ...
import { TestControlPlane } from '../xds/control_plane';
import { TYPE } from '../xds/types';

export interface DemoPorts { listener: number; admin: number; xds: number; v1: number; v2: number; v3: number }

export const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
export const ROUTER_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
const STDOUT_LOG_TYPE = 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog';

export const DEMO_LISTENER = 'ingress';
export const DEMO_ROUTE = 'local_route';
export const REVIEWS_VERSIONS = ['v1', 'v2', 'v3'] as const;
export type ReviewsVersion = typeof REVIEWS_VERSIONS[number];

/** One step of the canary rollout: /reviews weights by version (only versions with weight > 0). */
export interface CanaryStep { weights: Partial<Record<ReviewsVersion, number>> }

export const CANARY_STEPS: readonly CanaryStep[] = [
  { weights: { v1: 100 } },
  { weights: { v1: 50, v2: 50 } },
  { weights: { v2: 100 } },
  { weights: { v2: 50, v3: 50 } },
  { weights: { v3: 100 } },
];

/** "v1 50% / v2 50%" */
export function describeStep(s: CanaryStep): string {
  return Object.entries(s.weights).map(([v, w]) => `${v} ${w}%`).join(' / ');
}

export function clusterName(v: string): string {
  return `reviews-${v}`;
}

/** remora's bootstrap for the xDS demo: admin, node, and ADS to the control plane (xds_cluster). */
export function xdsBootstrapYaml(p: Pick<DemoPorts, 'admin' | 'xds'>, opts: { apiType?: 'GRPC' | 'DELTA_GRPC' } = {}): string {
  return `
node: { id: remora-demo, cluster: demo }
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: ${p.admin} } }
dynamic_resources:
  ads_config:
    api_type: ${opts.apiType ?? 'GRPC'}
    transport_api_version: V3
    grpc_services:
    - envoy_grpc: { cluster_name: xds_cluster }
  cds_config: { ads: {}, resource_api_version: V3 }
  lds_config: { ads: {}, resource_api_version: V3 }
static_resources:
  clusters:
  - name: xds_cluster
    type: STATIC
    connect_timeout: 1s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: { http2_protocol_options: {} }
    load_assignment:
      cluster_name: xds_cluster
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${p.xds} } } }
`;
}

/** The demo listener: HCM with `rds` (route config from ADS) and a stdout access log. */
export function demoListener(port: number, opts: { accessLog?: boolean } = {}): Record<string, unknown> {
  return {
    name: DEMO_LISTENER,
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [{
      filters: [{
        name: 'envoy.filters.network.http_connection_manager',
        typed_config: {
          '@type': HCM_TYPE,
          stat_prefix: 'ingress_http',
          ...(opts.accessLog === false ? {} : { access_log: [{ name: 'envoy.access_loggers.stdout', typed_config: { '@type': STDOUT_LOG_TYPE } }] }),
          rds: { route_config_name: DEMO_ROUTE, config_source: { ads: {}, resource_api_version: 'V3' } },
          http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER_TYPE } }],
        },
      }],
    }],
  };
}

/** The route configuration for one canary step: /reviews weighted between the versions, /v2/ always to v2. */
export function demoRoute(step: CanaryStep): Record<string, unknown> {
  // Every version is listed, with weight 0 when it gets no traffic (what a canary tool does).
  const clusters = REVIEWS_VERSIONS.map((v) => ({ name: clusterName(v), weight: step.weights[v] ?? 0 }));
  const reviews = { weighted_clusters: { clusters } };
  return {
    name: DEMO_ROUTE,
    virtual_hosts: [{
      name: 'reviews',
      domains: ['*'],
      routes: [
        { match: { prefix: '/reviews' }, route: reviews },
        { match: { prefix: '/v2/' }, route: { cluster: clusterName('v2'), prefix_rewrite: '/reviews/' } },
        { match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: 'remora demo: try /reviews\n' } } },
      ],
    }],
  };
}

/** An EDS cluster (endpoints from ADS). */
export function edsCluster(name: string): Record<string, unknown> {
  return {
    name,
    type: 'EDS',
    connect_timeout: '1s',
    lb_policy: 'ROUND_ROBIN',
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } },
  };
}

/** A ClusterLoadAssignment with loopback endpoints. */
export function loopbackCla(cluster: string, ports: number[]): Record<string, unknown> {
  return {
    cluster_name: cluster,
    endpoints: [{ lb_endpoints: ports.map((port) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } })) }],
  };
}

/** The control plane serving the reviews demo, with the canary rollout timer. */
export class DemoControlPlane {
  readonly cp: TestControlPlane;
  private stepIndex = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly ports: DemoPorts, private readonly onStep: (index: number, step: CanaryStep, version: string) => void = () => undefined) {
    this.cp = new TestControlPlane({ address: `127.0.0.1:${ports.xds}`, logLimit: 2000 });
  }

  /** Bind the gRPC server and load the resources (step 0: v1 100 %). */
  async start(): Promise<void> {
    await this.cp.start();
    const p = this.ports;
    const ports: Record<string, number> = { v1: p.v1, v2: p.v2, v3: p.v3 };
    this.cp.setResources(TYPE.ENDPOINT, REVIEWS_VERSIONS.map((v) => ({ json: loopbackCla(clusterName(v), [ports[v]]) })));
    this.cp.setResources(TYPE.CLUSTER, REVIEWS_VERSIONS.map((v) => ({ json: edsCluster(clusterName(v)) })));
    this.cp.setResources(TYPE.LISTENER, [{ json: demoListener(p.listener) }]);
    this.applyStep(0);
  }

  /** The current step (index into CANARY_STEPS). */
  get current(): number { return this.stepIndex; }

  private applyStep(i: number): void {
    this.stepIndex = i;
    const step = CANARY_STEPS[i];
    const version = this.cp.setResources(TYPE.ROUTE, [{ json: demoRoute(step) }]);
    this.onStep(i, step, version);
  }

  /** Move to the next canary step every `intervalMs`. */
  startRollout(intervalMs: number): void {
    this.stopRollout();
    this.timer = setInterval(() => this.applyStep((this.stepIndex + 1) % CANARY_STEPS.length), intervalMs);
  }

  stopRollout(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  async stop(): Promise<void> {
    this.stopRollout();
    await this.cp.stop();
  }
}

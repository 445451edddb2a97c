// End to end: a real remora Server whose bootstrap points ADS at a real gRPC
// TestControlPlane (src/xds/control_plane), through the production AdsClient
// (createAdsClient from dynamic_resources.ads_config). SotW and delta.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Server } from '../../../src/server/server';
import { Store } from '../../../src/stats/stats';
import { setLogLevel } from '../../../src/common/log';
import { TestControlPlane } from '../../../src/xds/control_plane';
import { AdsClient } from '../../../src/xds/client';
import { lookupType } from '../../../src/config/protos';
import { fromJSON } from '../../../src/config/json';
import { KeepAliveConnection, TYPE, cla, edsCluster, get, rdsListener, routeConfig, startUpstream, waitFor } from './helpers';

function bootstrap(cpPort: number, apiType: 'GRPC' | 'DELTA_GRPC'): string {
  return `
node: { id: e2e-node, cluster: e2e }
admin: { address: { socket_address: { address: 127.0.0.1, port_value: 0 } } }
static_resources:
  clusters:
  - name: xds-grpc
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: xds-grpc
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${cpPort} } } } }] }]
dynamic_resources:
  ads_config: { api_type: ${apiType}, transport_api_version: V3, grpc_services: [{ envoy_grpc: { cluster_name: xds-grpc } }] }
  cds_config: { ads: {}, initial_fetch_timeout: 0s, resource_api_version: V3 }
  lds_config: { ads: {}, initial_fetch_timeout: 0s, resource_api_version: V3 }
`;
}

async function run(apiType: 'GRPC' | 'DELTA_GRPC'): Promise<void> {
  setLogLevel('critical');
  const a = await startUpstream('A');
  const b = await startUpstream('B');
  const cp = new TestControlPlane();
  const { port } = await cp.start();
  cp.setResources(TYPE.CLUSTER, [{ json: edsCluster('c1') }, { json: edsCluster('c2') }], 'c-1');
  cp.setResources(TYPE.ENDPOINT, [{ json: cla('c1', [a.port]) }, { json: cla('c2', [b.port]) }], 'e-1');
  cp.setResources(TYPE.LISTENER, [{ json: rdsListener('l1', 'r1') }], 'l-1');
  cp.setResources(TYPE.ROUTE, [{ json: routeConfig('r1', 'c1') }], 'r-1');
  const store = new Store();
  const server = new Server({ configYaml: bootstrap(port, apiType), drainTimeS: 1 }, store);
  let conn: KeepAliveConnection | undefined;
  try {
    await server.start();
    assert.ok(server.dynamic);
    await server.dynamic.initialized();
    await waitFor(() => server.state === 'LIVE', 'LIVE');
    await cp.waitForAck(TYPE.ROUTE, 'r-1');
    assert.equal(store.counter('cluster_manager.cds.update_success').value >= 1, true, 'the client counts CDS updates');
    const lport = server.listenerManager.listeners().find((l) => l.name === 'l1')!.port;
    conn = await KeepAliveConnection.open(lport);
    assert.equal((await conn.send('/1')).body, 'A /1');

    // RDS swap on the live connection, through the real stream.
    cp.setResources(TYPE.ROUTE, [{ json: routeConfig('r1', 'c2') }], 'r-2');
    await cp.waitForAck(TYPE.ROUTE, 'r-2');
    assert.equal((await conn.send('/2')).body, 'B /2');
    assert.equal(conn.closed, false);

    // A bad route config is NACKed naming the resource and field; the old table keeps serving.
    const bad = routeConfig('r1', 'c1');
    bad.virtual_hosts[0].routes[0].match = { safe_regex: { regex: '[' } };
    cp.setResources(TYPE.ROUTE, [{ json: bad }], 'r-3');
    const nack = await cp.waitForNack(TYPE.ROUTE);
    assert.match(nack.message, /^RouteConfiguration "r1": virtual_hosts\[0\]\.routes\[0\]\.match\.safe_regex\.regex: /);
    assert.equal((await conn.send('/3')).body, 'B /3');
    const st = JSON.parse((await get(server.admin!.port, '/xds_status')).body);
    const rds = st.types.find((t: { type_url: string }) => t.type_url === TYPE.ROUTE);
    assert.equal(rds.last_acked_version, 'r-2');
    assert.match(rds.last_nack.error, /^RouteConfiguration "r1"/);

    // Two listeners on one address: NACKed.
    const fixed = (name: string) => ({ ...rdsListener(name, 'r1'), address: { socket_address: { address: '127.0.0.1', port_value: lport } } });
    cp.setResources(TYPE.LISTENER, [fixed('l1'), fixed('l9')].map((json) => ({ json })), 'l-2');
    const lnack = await cp.waitForNack(TYPE.LISTENER);
    assert.match(lnack.message, /duplicate address '127\.0\.0\.1:\d+' as existing listener/);

    // Removing c1 from CDS: its EDS name is unsubscribed on the stream.
    cp.setResources(TYPE.CLUSTER, [{ json: edsCluster('c2') }], 'c-2');
    await cp.waitForAck(TYPE.CLUSTER, 'c-2');
    await waitFor(() => server.clusterManager.get('c1') === undefined, 'c1 removed');
    await waitFor(() => {
      const s = JSON.parse(JSON.stringify(server.dynamic!.status())) as Array<{ typeUrl: string; subscribed: string[] }>;
      const eds = s.find((t) => t.typeUrl === TYPE.ENDPOINT);
      return !!eds && eds.subscribed.join(',') === 'c2';
    }, 'EDS unsubscribed c1');
    assert.equal((await conn.send('/4')).body, 'B /4');

    // EDS for a cluster nobody ever asked about is NACKed end to end; c2 keeps serving.
    const T = lookupType('envoy.config.endpoint.v3.ClusterLoadAssignment')!;
    const pack = (j: object) => ({ type_url: TYPE.ENDPOINT, value: T.encode(fromJSON(T.fullName.slice(1), j)).finish() });
    cp.setRaw(TYPE.ENDPOINT, [pack(cla('c2', [b.port])), pack(cla('ghost', [a.port]))], { names: ['c2', 'ghost'], version: 'e-ghost' });
    const enack = await cp.waitForNack(TYPE.ENDPOINT);
    assert.match(enack.message, /ghost/);
    assert.equal((await conn.send('/5')).body, 'B /5');
  } finally {
    conn?.close();
    await server.shutdown(0, false);
    await cp.stop();
    await a.close();
    await b.close();
  }
}

test('e2e SotW ADS: warm-up to LIVE, RDS swap on a live connection, NACKs, CDS removal', () => run('GRPC'));

test('e2e delta ADS: the same flow over DeltaAggregatedResources', () => run('DELTA_GRPC'));

test('createAdsClient: bootstrap ads_config -> AdsClient; unsupported xDS config fails the bootstrap naming the field', async () => {
  setLogLevel('critical');
  const store = new Store();
  const bad = bootstrap(1, 'GRPC').replace('cds_config: { ads: {}', 'cds_config: { path_config_source: { path: /tmp/cds.yaml }');
  const s1 = new Server({ configYaml: bad }, store);
  await assert.rejects(s1.start(false), /dynamic_resources\.cds_config\.path_config_source: only ADS config sources/);
  s1.clusterManager?.shutdown();
  const s2 = new Server({ configYaml: bootstrap(1, 'GRPC').replace('cluster_name: xds-grpc } }', 'cluster_name: nope } }') }, store);
  await assert.rejects(s2.start(false), /dynamic_resources\.ads_config\.grpc_services\[0\]\.envoy_grpc\.cluster_name: unknown static cluster "nope"/);
  await s2.shutdown(0, false);
  assert.ok(AdsClient);
});

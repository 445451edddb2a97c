// Transport details of the xDS stream: TLS channel credentials, gRPC targets from Envoy addresses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { TestControlPlane } from '../../src/xds/control_plane';
import { AdsClient } from '../../src/xds/client';
import { grpcTargetFromAddress } from '../../src/xds/target';
import { Store } from '../../src/stats/stats';
import { TYPE, clusterJson, memoryLog, RecordingHandler, waitUntil } from './helpers';

test('the ADS stream over TLS with the control plane certificate as root', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'remora-xds-tls-'));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
    '-days', '1', '-subj', '/CN=istiod', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:istiod.istio-system.svc'], { stdio: 'ignore', timeout: 20000 });
  const certPem = fs.readFileSync(cert);
  const cp = new TestControlPlane({ credentials: grpc.ServerCredentials.createSsl(null, [{ cert_chain: certPem, private_key: fs.readFileSync(key) }], false) });
  const { target } = await cp.start();
  const hnd = new RecordingHandler();
  const client = new AdsClient({ target, node: { id: 'n' }, stats: new Store(), log: memoryLog(), credentials: grpc.credentials.createSsl(certPem), initialFetchTimeoutMs: 0 });
  // a client that does not trust the certificate never gets a resource
  const untrusting = new AdsClient({ target, node: { id: 'n' }, stats: new Store(), log: memoryLog(), credentials: grpc.credentials.createSsl(), initialFetchTimeoutMs: 0, backoff: { baseMs: 20, maxMs: 50 } });
  const other = new RecordingHandler();
  try {
    const v = cp.setResources(TYPE.CLUSTER, [{ json: clusterJson('tls') }]);
    client.setHandler(TYPE.CLUSTER, hnd);
    client.subscribe(TYPE.CLUSTER, '*');
    client.start();
    untrusting.setHandler(TYPE.CLUSTER, other);
    untrusting.subscribe(TYPE.CLUSTER, '*');
    untrusting.start();
    await cp.waitForAck(TYPE.CLUSTER, v);
    assert.deepEqual(hnd.names(), ['tls']);
    await waitUntil(() => cp.connectedStreams().length === 1, 2000, 'one stream');
    assert.equal(other.updates.length, 0);
    assert.equal(untrusting.connected(), false);
  } finally {
    client.stop();
    untrusting.stop();
    await cp.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('gRPC targets from Envoy addresses', () => {
  assert.equal(grpcTargetFromAddress({ socket_address: { address: '127.0.0.1', port_value: 15010, protocol: 'TCP' } }), '127.0.0.1:15010');
  assert.equal(grpcTargetFromAddress({ socket_address: { address: '::1', port_value: 15012 } }), '[::1]:15012');
  assert.equal(grpcTargetFromAddress({ socket_address: { address: 'istiod.istio-system.svc', port_value: 15012 } }), 'istiod.istio-system.svc:15012');
  assert.equal(grpcTargetFromAddress({ pipe: { path: './etc/istio/proxy/XDS', mode: 0 } }), 'unix:./etc/istio/proxy/XDS');
  assert.equal(grpcTargetFromAddress({ pipe: { path: '/etc/istio/proxy/XDS' } }), 'unix:/etc/istio/proxy/XDS');
  assert.throws(() => grpcTargetFromAddress({ socket_address: { address: '1.2.3.4', port_value: 53, protocol: 'UDP' } }, 'clusters[0].address'), /clusters\[0\]\.address\.socket_address\.protocol: the xDS gRPC stream needs TCP/);
  assert.throws(() => grpcTargetFromAddress({ pipe: { path: '@abstract' } }), /abstract unix sockets/);
  assert.throws(() => grpcTargetFromAddress({ envoy_internal_address: { server_listener_name: 'x' } }), /socket_address or a pipe/);
  assert.throws(() => grpcTargetFromAddress({ socket_address: { address: '1.2.3.4', port_value: 0 } }), /invalid port 0/);
});

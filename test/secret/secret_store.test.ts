// SecretStore (static + SDS secrets, watchers, subscriptions, redaction) and the SDS handler.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SecretStore, validateSecret, type SecretEntry } from '../../src/secret/secret_store';
import { redactJson, REDACTED } from '../../src/secret/redact';
import { SdsHandler } from '../../src/xds/handlers/sds';
import { ConfigError } from '../../src/config/errors';
import { FakeXdsClient, TYPE, assertOk, nackOf, startHarness, get, tick, decoded } from '../xds/handlers/helpers';

const silent = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, critical() {} };

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nsecret-key-bytes\n-----END PRIVATE KEY-----\n';

const cert = (name: string, key = KEY) => ({ name, tls_certificate: { certificate_chain: { inline_string: PEM }, private_key: { inline_string: key } } });
const ca = (name: string) => ({ name, validation_context: { trusted_ca: { inline_string: PEM } } });

function setup(): { store: SecretStore; client: FakeXdsClient; sds: SdsHandler } {
  const store = new SecretStore(silent);
  const client = new FakeXdsClient();
  const sds = new SdsHandler(store, silent);
  client.setHandler(TYPE.SECRET, sds);
  sds.attach(client);
  return { store, client, sds };
}

test('validateSecret: exactly one kind; complete tls_certificate; data sources set', () => {
  assert.equal(validateSecret(cert('a')), 'tls_certificate');
  assert.equal(validateSecret(ca('b')), 'validation_context');
  assert.equal(validateSecret({ name: 'g', generic_secret: { secret: { inline_bytes: Buffer.from('x') } } }), 'generic_secret');
  const bad = (s: object, re: RegExp) => assert.throws(() => validateSecret(s), (e: unknown) => e instanceof ConfigError && re.test(e.message));
  bad({ name: 'x' }, /^secret must set one of tls_certificate/);
  bad(ca(''), /^name: secret name must not be empty/);
  bad({ name: 'x', tls_certificate: { certificate_chain: { inline_string: PEM } } }, /^tls_certificate\.private_key: required when certificate_chain is set/);
  bad({ name: 'x', tls_certificate: { certificate_chain: {}, private_key: { inline_string: KEY } } }, /^tls_certificate\.certificate_chain: data source must set one of/);
  bad({ name: 'x', generic_secret: {} }, /^generic_secret\.secret: required/);
});

test('watch subscribes through SDS; an update reaches the watcher; unwatch unsubscribes', async () => {
  const { store, client } = setup();
  const seen: (SecretEntry | undefined)[] = [];
  const unwatch = store.watch('default', (e) => seen.push(e), { kind: 'tls_certificate' });
  assert.deepEqual(client.subscribed(TYPE.SECRET), ['default']);
  assertOk(client.push(TYPE.SECRET, [cert('default')], { version: 'v1' }));
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.kind, 'tls_certificate');
  assert.equal(seen[0]!.versionInfo, 'v1');
  assert.equal(seen[0]!.secret.tls_certificate.private_key.inline_string, KEY);
  // Same content, new version: stored, watchers not called again.
  assertOk(client.push(TYPE.SECRET, [cert('default')], { version: 'v2' }));
  assert.equal(seen.length, 1);
  assert.equal(store.get('default')!.versionInfo, 'v2');
  assertOk(client.push(TYPE.SECRET, [cert('default', KEY + '\n')], { version: 'v3' }));
  assert.equal(seen.length, 2);
  // A late watcher gets the current secret at once.
  let late: SecretEntry | undefined;
  store.watch('default', (e) => { late = e; });
  assert.equal(late?.versionInfo, 'v3');
  assertOk(client.push(TYPE.SECRET, [], { removed: ['default'] }));
  assert.equal(seen.at(-1), undefined);
  assert.equal(store.get('default'), undefined);
  unwatch();
  assert.deepEqual(client.subscribed(TYPE.SECRET), ['default'], 'still watched by the late watcher');
  await tick();
});

test('SDS NACKs: invalid secret, kind the watcher cannot use, duplicates; nothing stored', () => {
  const { store, client } = setup();
  store.watch('default', () => undefined, { kind: 'tls_certificate' });
  store.watch('ROOTCA', () => undefined, { kind: 'validation_context' });
  let err = nackOf(client.push(TYPE.SECRET, [ca('ROOTCA'), { name: 'default', tls_certificate: { certificate_chain: { inline_string: PEM } } }]));
  assert.equal(err, 'Secret "default": tls_certificate.private_key: required when certificate_chain is set');
  assert.equal(store.get('ROOTCA'), undefined, 'atomic: the valid secret was not stored');
  err = nackOf(client.push(TYPE.SECRET, [ca('default')]));
  assert.equal(err, 'Secret "default": validation_context: the secret is used as tls_certificate');
  err = nackOf(client.push(TYPE.SECRET, [ca('ROOTCA'), ca('ROOTCA')]));
  assert.match(err, /^Secret "ROOTCA": duplicate resource name/);
  // Unwatched names are ignored.
  assertOk(client.push(TYPE.SECRET, [ca('ROOTCA'), ca('other')]));
  assert.ok(store.get('ROOTCA'));
  assert.equal(store.get('other'), undefined);
});

test('static secrets are not subscribed nor replaced by SDS; TTL expiry removes SDS secrets', () => {
  const { store, client, sds } = setup();
  store.addStatic(ca('static-ca'));
  let calls = 0;
  store.watch('static-ca', () => { calls++; });
  assert.equal(calls, 1);
  assert.deepEqual(client.subscribed(TYPE.SECRET), []);
  store.watch('dyn', () => { calls++; });
  assertOk(client.push(TYPE.SECRET, [ca('dyn')]));
  assert.equal(calls, 2);
  sds.onExpired(TYPE.SECRET, ['dyn']);
  assert.equal(store.get('dyn'), undefined);
  assert.equal(calls, 3);
  assert.throws(() => store.addStatic(ca('static-ca')), /duplicate static secret/);
});

test('configDump: static, active and warming secrets, private keys and generic secrets redacted', () => {
  const { store, client } = setup();
  store.addStatic({ name: 'st', generic_secret: { secret: { inline_string: 'hunter2' } } });
  store.watch('default', () => undefined);
  store.watch('pending', () => undefined);
  assertOk(client.push(TYPE.SECRET, [decoded(TYPE.SECRET, { ...cert('default'), tls_certificate: { certificate_chain: { inline_string: PEM }, private_key: { filename: '/etc/key.pem' }, password: { inline_bytes: Buffer.from('pw').toString('base64') } } }, 'v1')], { version: 'v1' }));
  const d = store.configDump() as { static_secrets: any[]; dynamic_active_secrets: any[]; dynamic_warming_secrets: any[] }; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(d.static_secrets[0].name, 'st');
  assert.deepEqual(d.static_secrets[0].secret.generic_secret.secret, { inline_string: REDACTED });
  const s = d.dynamic_active_secrets[0];
  assert.equal(s.name, 'default');
  assert.equal(s.version_info, 'v1');
  assert.equal(s.secret['@type'], 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret');
  assert.deepEqual(s.secret.tls_certificate.certificate_chain, { inline_string: PEM }, 'certificates are not secret');
  assert.deepEqual(s.secret.tls_certificate.private_key, { filename: REDACTED });
  assert.deepEqual(s.secret.tls_certificate.password, { inline_bytes: Buffer.from(REDACTED).toString('base64') });
  assert.ok(!JSON.stringify(d).includes('/etc/key.pem'));
  assert.deepEqual(d.dynamic_warming_secrets.map((w) => w.name), ['pending']);
});

test('redactJson: sensitive fields inside Any-typed configs (cluster transport socket) are redacted', () => {
  const cluster = {
    name: 'c', transport_socket: { name: 'tls', typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      common_tls_context: { tls_certificates: [{ certificate_chain: { inline_string: PEM }, private_key: { inline_string: KEY } }] },
    } },
  };
  const r = redactJson('envoy.config.cluster.v3.Cluster', cluster) as typeof cluster;
  const c = r.transport_socket.typed_config.common_tls_context.tls_certificates[0];
  assert.deepEqual(c.private_key, { inline_string: REDACTED });
  assert.deepEqual(c.certificate_chain, { inline_string: PEM });
  assert.equal(cluster.transport_socket.typed_config.common_tls_context.tls_certificates[0].private_key.inline_string, KEY, 'input untouched');
});

test('server: bootstrap static secrets and SDS secrets in /config_dump, redacted', async () => {
  const h = await startHarness(`
node: { id: node-1, cluster: test }
admin: { address: { socket_address: { address: 127.0.0.1, port_value: 0 } } }
static_resources:
  clusters:
  - name: xds-grpc
    type: STATIC
    connect_timeout: 1s
    load_assignment: { cluster_name: xds-grpc, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 1 } } } }] }] }
  secrets:
  - name: static-cert
    tls_certificate: { certificate_chain: { inline_string: "${PEM.replace(/\n/g, '\\n')}" }, private_key: { inline_string: "${KEY.replace(/\n/g, '\\n')}" } }
dynamic_resources:
  ads_config: { api_type: GRPC, grpc_services: [{ envoy_grpc: { cluster_name: xds-grpc } }] }
`);
  try {
    assert.ok(h.server.secretStore.get('static-cert'));
    h.server.secretStore.watch('default', () => undefined);
    await tick();
    assertOk(h.client.push(TYPE.SECRET, [cert('default')], { version: 's1' }));
    const body = (await get(h.adminPort, '/config_dump?resource=dynamic_active_secrets')).body;
    const d = JSON.parse(body) as { configs: Array<{ name: string; secret: { tls_certificate: { private_key: unknown } } }> };
    assert.equal(d.configs[0].name, 'default');
    assert.deepEqual(d.configs[0].secret.tls_certificate.private_key, { inline_string: REDACTED });
    const all = (await get(h.adminPort, '/config_dump')).body;
    assert.ok(!all.includes('secret-key-bytes'), 'no private key anywhere in the dump');
    assert.ok(all.includes('"static-cert"'));
    // Without cds/lds config the server is LIVE once the static clusters are up.
    await h.server.dynamic!.initialized();
  } finally {
    await h.close();
  }
});

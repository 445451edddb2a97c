import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { Cluster } from '../../src/cluster/types';
import type { DnsAnswer, DnsLookupFamily } from '../../src/cluster/dns';
import { lookupResolve } from '../../src/cluster/dns';
import { cluster, manager, sa, throwsAt } from './helpers';

function initialized(c: Cluster, ms = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('cluster did not initialize')), ms);
    c.onInitialized(() => { clearTimeout(t); resolve(); });
  });
}

async function waitFor(pred: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const dnsCluster = (name: string, type: string, endpoints: [string, number][], extra?: object) => cluster({
  name, type, connect_timeout: '1s',
  load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: endpoints.map(([a, p]) => ({ endpoint: sa(a, p) })) }] },
  ...extra,
});

test('STRICT_DNS against localhost: each address becomes a host, hostname is the DNS name', async () => {
  const { cm, store } = manager();
  try {
    const c = cm.addOrUpdate(dnsCluster('dns', 'STRICT_DNS', [['localhost', 8080], ['127.0.0.2', 9090]], { dns_lookup_family: 'V4_ONLY' }));
    assert.equal(c.initialized, false);
    await initialized(c);
    const keys = c.hostsByPriority()[0].map((h) => h.key).sort();
    assert.deepEqual(keys, ['127.0.0.1:8080', '127.0.0.2:9090']);
    const h = c.hostsByPriority()[0].find((x) => x.port === 8080)!;
    assert.equal(h.hostname, 'localhost');
    assert.ok(c.chooseHost(undefined) !== null);
    assert.ok(store.counters.get('cluster.dns.update_success')!.value >= 2);
  } finally {
    cm.shutdown();
  }
});

test('LOGICAL_DNS against localhost: one host at the first address', async () => {
  const { cm } = manager();
  try {
    const c = cm.addOrUpdate(dnsCluster('ldns', 'LOGICAL_DNS', [['localhost', 8081]], { dns_lookup_family: 'V4_ONLY' }));
    await initialized(c);
    const hosts = c.hostsByPriority()[0];
    assert.equal(hosts.length, 1);
    assert.equal(hosts[0].key, '127.0.0.1:8081');
    assert.equal(hosts[0].hostname, 'localhost');
  } finally {
    cm.shutdown();
  }
});

test('respect_dns_ttl against localhost: falls back to getaddrinfo when DNS servers have no answer', async () => {
  const { cm } = manager();
  try {
    const c = cm.addOrUpdate(dnsCluster('ttl', 'STRICT_DNS', [['localhost', 8082]], { respect_dns_ttl: true, dns_lookup_family: 'V4_ONLY' }));
    await initialized(c, 10000);
    assert.deepEqual(c.hostsByPriority()[0].map((h) => h.key), ['127.0.0.1:8082']);
  } finally {
    cm.shutdown();
  }
});

test('lookup families on localhost (127.0.0.1 only in this environment\'s /etc/hosts)', async () => {
  const v4 = await lookupResolve('localhost', 'V4_ONLY');
  assert.ok(v4.addresses.includes('127.0.0.1'));
  const auto = await lookupResolve('localhost', 'AUTO');
  assert.ok(auto.addresses.length >= 1);
  // AUTO prefers IPv6 when there is any: either all IPv6 or all IPv4.
  assert.ok(auto.addresses.every((a) => a.includes(':')) || auto.addresses.every((a) => !a.includes(':')));
  const lit = await lookupResolve('::1', 'V4_ONLY');
  assert.deepEqual(lit.addresses, []);
  const all = await lookupResolve('127.0.0.1', 'ALL');
  assert.deepEqual(all.addresses, ['127.0.0.1']);
});

test('STRICT_DNS re-resolves every dns_refresh_rate, keeps the last good hosts on failure', async () => {
  const answers: (string[] | Error)[] = [['10.0.0.1'], ['10.0.0.2', '10.0.0.3'], new Error('SERVFAIL'), new Error('SERVFAIL')];
  let calls = 0;
  const families: DnsLookupFamily[] = [];
  const dnsResolve = async (name: string, family: DnsLookupFamily): Promise<DnsAnswer> => {
    assert.equal(name, 'svc.test');
    families.push(family);
    const a = answers[Math.min(calls++, answers.length - 1)];
    if (a instanceof Error) throw a;
    return { addresses: a, ttlSec: 0 };
  };
  const { cm, store } = manager({ dnsResolve });
  try {
    const c = cm.addOrUpdate(dnsCluster('r', 'STRICT_DNS', [['svc.test', 80]], { dns_refresh_rate: '0.01s', dns_lookup_family: 'V4_PREFERRED' }));
    await initialized(c);
    assert.deepEqual(c.hostsByPriority()[0].map((h) => h.key), ['10.0.0.1:80']);
    await waitFor(() => c.hostsByPriority()[0].length === 2);
    assert.deepEqual(c.hostsByPriority()[0].map((h) => h.key), ['10.0.0.2:80', '10.0.0.3:80']);
    await waitFor(() => store.counters.get('cluster.r.update_failure')!.value >= 2);
    assert.deepEqual(c.hostsByPriority()[0].map((h) => h.key), ['10.0.0.2:80', '10.0.0.3:80']);
    assert.equal(families[0], 'V4_PREFERRED');
    assert.ok(store.counters.get('cluster.r.membership_change')!.value >= 2);
  } finally {
    cm.shutdown();
  }
  // After shutdown no more queries are made.
  const n = calls;
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(calls, n);
});

test('DNS: a first failure still initializes the cluster (no hosts); failures back off', async () => {
  let calls = 0;
  const dnsResolve = async (): Promise<DnsAnswer> => { calls++; throw new Error('timeout'); };
  const { cm, store } = manager({ dnsResolve });
  try {
    const c = cm.addOrUpdate(dnsCluster('f', 'STRICT_DNS', [['svc.test', 80]], {
      dns_refresh_rate: '10s', dns_failure_refresh_rate: { base_interval: '0.01s', max_interval: '0.04s' },
    }));
    await initialized(c);
    assert.deepEqual(c.hostsByPriority()[0], []);
    assert.equal(c.chooseHost(undefined), null);
    await waitFor(() => calls >= 4);
    assert.ok(store.counters.get('cluster.f.update_failure')!.value >= 4);
  } finally {
    cm.shutdown();
  }
});

test('LOGICAL_DNS: new answers move the single host to the first new address', async () => {
  const answers = [['10.0.0.1', '10.0.0.9'], ['10.0.0.2'], []];
  let calls = 0;
  const dnsResolve = async (): Promise<DnsAnswer> => ({ addresses: answers[Math.min(calls++, answers.length - 1)], ttlSec: 0 });
  const { cm } = manager({ dnsResolve });
  try {
    const c = cm.addOrUpdate(dnsCluster('l', 'LOGICAL_DNS', [['svc.test', 443]], { dns_refresh_rate: '0.01s' }));
    await initialized(c);
    const h = c.chooseHost(undefined)!;
    assert.equal(h.key, '10.0.0.1:443');
    await waitFor(() => h.address === '10.0.0.2');
    assert.equal(h.key, '10.0.0.2:443');
    assert.equal(c.chooseHost(undefined), h);
    // Empty answers keep the last address.
    await waitFor(() => calls >= 4);
    assert.equal(h.address, '10.0.0.2');
    assert.equal(c.hostsByPriority()[0].length, 1);
  } finally {
    cm.shutdown();
  }
});

test('respect_dns_ttl: the answer TTL sets the next refresh', async () => {
  let calls = 0;
  const dnsResolve = async (): Promise<DnsAnswer> => { calls++; return { addresses: ['10.0.0.1'], ttlSec: 3600 }; };
  const { cm } = manager({ dnsResolve });
  try {
    const c = cm.addOrUpdate(dnsCluster('t', 'STRICT_DNS', [['svc.test', 80]], { dns_refresh_rate: '0.01s', respect_dns_ttl: true }));
    await initialized(c);
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(calls, 1);
  } finally {
    cm.shutdown();
  }
});

test('DNS config errors', () => {
  const { cm } = manager();
  throwsAt(() => cm.addOrUpdate({ name: 'x', type: 'STRICT_DNS', dns_refresh_rate: 0.5 }), 'dns_refresh_rate');
  throwsAt(() => cm.addOrUpdate({ name: 'x', type: 'STRICT_DNS', dns_lookup_family: 'V5_ONLY' }), 'dns_lookup_family');
  throwsAt(() => cm.addOrUpdate({ name: 'x', type: 'STRICT_DNS', dns_failure_refresh_rate: { base_interval: 1000, max_interval: 500 } }), 'dns_failure_refresh_rate.max_interval');
  throwsAt(() => cm.addOrUpdate({ name: 'x', type: 'STRICT_DNS', dns_resolvers: [{ socket_address: { address: 'dns.example', port_value: 53 } }] }), 'dns_resolvers[0].socket_address.address');
  throwsAt(() => cm.addOrUpdate({ name: 'x', type: 'STRICT_DNS', typed_dns_resolver_config: { name: 'apple', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.network.dns_resolver.apple.v3.AppleDnsResolverConfig' } } }), 'typed_dns_resolver_config.typed_config');
  throwsAt(() => cm.addOrUpdate({ name: 'x', type: 'STRICT_DNS', load_assignment: { endpoints: [{ lb_endpoints: [{ endpoint: { address: { pipe: { path: '/tmp/s' } } } }] }] } }),
    'load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.pipe');
  // An empty STRICT_DNS cluster is initialized at once.
  const c = cm.addOrUpdate({ name: 'empty', type: 'STRICT_DNS' });
  assert.equal(c.initialized, true);
  cm.shutdown();
});

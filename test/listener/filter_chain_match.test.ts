import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { compileFilterChainMatcher, FilterChainEntry, isSameIpOrLoopback, MatchConnection } from '../../src/listener/filter_chain_match';
import { ConfigError } from '../../src/config/errors';
import type { Plain } from '../../src/config/plain';

function conn(o: Partial<MatchConnection> = {}): MatchConnection {
  return {
    localAddress: '10.0.0.1', localPort: 8080,
    remoteAddress: '192.168.1.10', remotePort: 40000, directRemoteAddress: o.remoteAddress ?? '192.168.1.10',
    sni: '', transportProtocol: 'raw_buffer', alpn: [],
    ...o,
  };
}

function compile(chains: Array<[string, Plain | undefined]>, dflt?: string) {
  const entries: FilterChainEntry<string>[] = chains.map(([name, match]) => ({ name, match, value: name }));
  return compileFilterChainMatcher(entries, dflt, { listenerAddress: '0.0.0.0:8080' });
}

function cidr(address_prefix: string, prefix_len: number) { return { address_prefix, prefix_len }; }

test('no criteria matches everything; empty list matches nothing', () => {
  assert.equal(compile([['a', undefined]]).find(conn()), 'a');
  assert.equal(compile([['a', {}]]).find(conn({ localAddress: '::1', remoteAddress: '::2', directRemoteAddress: '::2' })), 'a');
  assert.equal(compile([]).find(conn()), undefined);
  assert.equal(compile([], 'dflt').find(conn()), 'dflt');
});

test('destination_port: exact port beats port-less chains', () => {
  const m = compile([['any', {}], ['p8080', { destination_port: 8080 }], ['p9090', { destination_port: 9090 }]]);
  assert.equal(m.find(conn({ localPort: 8080 })), 'p8080');
  assert.equal(m.find(conn({ localPort: 9090 })), 'p9090');
  assert.equal(m.find(conn({ localPort: 7070 })), 'any');
});

test('destination_port: a port entry that fails deeper does not fall back to port-less chains', () => {
  const m = compile([
    ['any', {}],
    ['p8080-tls', { destination_port: 8080, transport_protocol: 'tls' }],
  ], 'dflt');
  assert.equal(m.find(conn({ localPort: 8080, transportProtocol: 'tls' })), 'p8080-tls');
  assert.equal(m.find(conn({ localPort: 8080, transportProtocol: 'raw_buffer' })), 'dflt');
  assert.equal(m.findMatch(conn({ localPort: 8080, transportProtocol: 'raw_buffer' })), undefined);
  assert.equal(m.find(conn({ localPort: 1 })), 'any');
});

test('prefix_ranges: longest prefix wins, IPv4 and IPv6', () => {
  const m = compile([
    ['any', {}],
    ['10/8', { prefix_ranges: [cidr('10.0.0.0', 8)] }],
    ['10.0.0/24', { prefix_ranges: [cidr('10.0.0.0', 24)] }],
    ['host', { prefix_ranges: [cidr('10.0.0.7', 32)] }],
    ['v6', { prefix_ranges: [cidr('2001:db8::', 32)] }],
    ['v6host', { prefix_ranges: [cidr('2001:db8::1', 128)] }],
  ]);
  assert.equal(m.find(conn({ localAddress: '10.0.0.1' })), '10.0.0/24');
  assert.equal(m.find(conn({ localAddress: '10.0.0.7' })), 'host');
  assert.equal(m.find(conn({ localAddress: '10.9.0.1' })), '10/8');
  assert.equal(m.find(conn({ localAddress: '11.0.0.1' })), 'any');
  assert.equal(m.find(conn({ localAddress: '2001:db8::5' })), 'v6');
  assert.equal(m.find(conn({ localAddress: '2001:db8::1' })), 'v6host');
  assert.equal(m.find(conn({ localAddress: 'fe80::1' })), 'any');
  // A dual-stack server reports IPv4 peers as ::ffff:a.b.c.d; they match IPv4 ranges.
  assert.equal(m.find(conn({ localAddress: '::ffff:10.0.0.7' })), 'host');
});

test('prefix_ranges: host bits are masked; several ranges on one chain', () => {
  const m = compile([['multi', { prefix_ranges: [cidr('192.168.1.77', 24), cidr('172.16.0.0', 12)] }]]);
  assert.equal(m.find(conn({ localAddress: '192.168.1.1' })), 'multi');
  assert.equal(m.find(conn({ localAddress: '172.31.255.255' })), 'multi');
  assert.equal(m.find(conn({ localAddress: '172.32.0.1' })), undefined);
});

test('prefix_ranges: a more specific range that fails later does not fall back to a wider one', () => {
  const m = compile([
    ['wide', { prefix_ranges: [cidr('10.0.0.0', 8)] }],
    ['narrow-tls', { prefix_ranges: [cidr('10.0.0.0', 24)], transport_protocol: 'tls' }],
  ], 'dflt');
  assert.equal(m.find(conn({ localAddress: '10.0.0.1', transportProtocol: 'tls' })), 'narrow-tls');
  assert.equal(m.find(conn({ localAddress: '10.0.0.1' })), 'dflt');
  assert.equal(m.find(conn({ localAddress: '10.1.0.1' })), 'wide');
});

test('server_names: exact > longest wildcard suffix > none; case-insensitive', () => {
  const m = compile([
    ['none', {}],
    ['exact', { server_names: ['www.example.com'] }],
    ['wild', { server_names: ['*.example.com'] }],
    ['wild-deep', { server_names: ['*.api.example.com'] }],
    ['wild-com', { server_names: ['*.com'] }],
  ]);
  assert.equal(m.find(conn({ sni: 'www.example.com' })), 'exact');
  assert.equal(m.find(conn({ sni: 'WWW.Example.COM' })), 'exact');
  assert.equal(m.find(conn({ sni: 'foo.example.com' })), 'wild');
  assert.equal(m.find(conn({ sni: 'a.b.example.com' })), 'wild');
  assert.equal(m.find(conn({ sni: 'v1.api.example.com' })), 'wild-deep');
  assert.equal(m.find(conn({ sni: 'example.com' })), 'wild-com');
  assert.equal(m.find(conn({ sni: 'other.org' })), 'none');
  assert.equal(m.find(conn({ sni: '' })), 'none');
});

test('server_names: wildcard does not match the bare domain; config names are lowercased', () => {
  const m = compile([['wild', { server_names: ['*.Example.com'] }]]);
  assert.equal(m.find(conn({ sni: 'x.example.com' })), 'wild');
  assert.equal(m.find(conn({ sni: 'example.com' })), undefined);
});

test('server_names: exact match failing deeper does not fall back to the wildcard', () => {
  const m = compile([
    ['exact-tls', { server_names: ['a.example.com'], transport_protocol: 'tls' }],
    ['wild', { server_names: ['*.example.com'] }],
  ]);
  assert.equal(m.find(conn({ sni: 'a.example.com', transportProtocol: 'tls' })), 'exact-tls');
  assert.equal(m.find(conn({ sni: 'a.example.com', transportProtocol: 'raw_buffer' })), undefined);
  assert.equal(m.find(conn({ sni: 'b.example.com' })), 'wild');
});

test('server_names: partial wildcards are rejected', () => {
  for (const bad of ['*', 'www.*.com', 'w*.example.com', '*.*.com', 'foo*']) {
    assert.throws(() => compile([['x', { server_names: [bad] }]]), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.path, 'filter_chains[0].filter_chain_match.server_names[0]');
      assert.match(e.message, /partial wildcards are not supported/);
      return true;
    });
  }
});

test('transport_protocol: exact beats empty', () => {
  const m = compile([['any', {}], ['tls', { transport_protocol: 'tls' }]]);
  assert.equal(m.find(conn({ transportProtocol: 'tls' })), 'tls');
  assert.equal(m.find(conn({ transportProtocol: 'raw_buffer' })), 'any');
  const only = compile([['tls', { transport_protocol: 'tls' }]]);
  assert.equal(only.find(conn({ transportProtocol: 'raw_buffer' })), undefined);
});

test('application_protocols: first client protocol some chain lists wins; else chains without', () => {
  const m = compile([
    ['none', {}],
    ['h2', { application_protocols: ['h2'] }],
    ['h1', { application_protocols: ['http/1.1', 'http/1.0'] }],
  ]);
  assert.equal(m.find(conn({ alpn: ['h2', 'http/1.1'] })), 'h2');
  assert.equal(m.find(conn({ alpn: ['http/1.1', 'h2'] })), 'h1');
  assert.equal(m.find(conn({ alpn: ['http/1.0'] })), 'h1');
  assert.equal(m.find(conn({ alpn: ['istio-peer-exchange', 'h2'] })), 'h2');
  assert.equal(m.find(conn({ alpn: ['spdy/3'] })), 'none');
  assert.equal(m.find(conn({ alpn: [] })), 'none');
});

test('direct_source_prefix_ranges: matched against the socket peer, not the restored source', () => {
  const m = compile([
    ['any', {}],
    ['lb', { direct_source_prefix_ranges: [cidr('10.1.0.0', 16)] }],
  ]);
  assert.equal(m.find(conn({ remoteAddress: '8.8.8.8', directRemoteAddress: '10.1.2.3' })), 'lb');
  assert.equal(m.find(conn({ remoteAddress: '10.1.2.3', directRemoteAddress: '8.8.8.8' })), 'any');
});

test('source_type: SAME_IP_OR_LOOPBACK / EXTERNAL before ANY', () => {
  const m = compile([
    ['any', {}],
    ['local', { source_type: 'SAME_IP_OR_LOOPBACK' }],
    ['external', { source_type: 'EXTERNAL' }],
  ]);
  assert.equal(m.find(conn({ remoteAddress: '127.0.0.1', directRemoteAddress: '127.0.0.1' })), 'local');
  assert.equal(m.find(conn({ remoteAddress: '127.5.6.7', directRemoteAddress: '127.5.6.7' })), 'local');
  assert.equal(m.find(conn({ remoteAddress: '::1', directRemoteAddress: '::1', localAddress: '::1' })), 'local');
  assert.equal(m.find(conn({ remoteAddress: '10.0.0.1', localAddress: '10.0.0.1', directRemoteAddress: '10.0.0.1' })), 'local');
  assert.equal(m.find(conn({ remoteAddress: '10.0.0.2', localAddress: '10.0.0.1', directRemoteAddress: '10.0.0.2' })), 'external');

  const localOnly = compile([['any', {}], ['local', { source_type: 'SAME_IP_OR_LOOPBACK' }]]);
  assert.equal(localOnly.find(conn({ remoteAddress: '10.0.0.2' })), 'any');
  assert.equal(localOnly.find(conn({ remoteAddress: '127.0.0.1' })), 'local');
  const externalOnly = compile([['external', { source_type: 'EXTERNAL' }]]);
  assert.equal(externalOnly.find(conn({ remoteAddress: '127.0.0.1' })), undefined);
  assert.equal(externalOnly.find(conn({ remoteAddress: '8.8.8.8' })), 'external');
});

test('isSameIpOrLoopback', () => {
  assert.equal(isSameIpOrLoopback({ remoteAddress: '127.0.0.1', localAddress: '10.0.0.1' }), true);
  assert.equal(isSameIpOrLoopback({ remoteAddress: '::1', localAddress: '::2' }), true);
  assert.equal(isSameIpOrLoopback({ remoteAddress: '10.0.0.1', localAddress: '10.0.0.1' }), true);
  assert.equal(isSameIpOrLoopback({ remoteAddress: '10.0.0.2', localAddress: '10.0.0.1' }), false);
  assert.equal(isSameIpOrLoopback({ remoteAddress: '', localAddress: '/tmp/sock' }), true);
});

test('source_prefix_ranges: longest prefix; source_ports exact before any', () => {
  const m = compile([
    ['any', {}],
    ['net', { source_prefix_ranges: [cidr('192.168.0.0', 16)] }],
    ['host', { source_prefix_ranges: [cidr('192.168.1.10', 32)] }],
    ['host-port', { source_prefix_ranges: [cidr('192.168.1.10', 32)], source_ports: [40000, 40001] }],
  ]);
  assert.equal(m.find(conn({ remoteAddress: '192.168.1.10', remotePort: 40000 })), 'host-port');
  assert.equal(m.find(conn({ remoteAddress: '192.168.1.10', remotePort: 40001 })), 'host-port');
  assert.equal(m.find(conn({ remoteAddress: '192.168.1.10', remotePort: 5 })), 'host');
  assert.equal(m.find(conn({ remoteAddress: '192.168.7.7' })), 'net');
  assert.equal(m.find(conn({ remoteAddress: '8.8.8.8' })), 'any');
});

test('source_ports only: port miss falls back to chains without ports', () => {
  const m = compile([['p', { source_ports: [1234] }]], 'dflt');
  assert.equal(m.find(conn({ remotePort: 1234 })), 'p');
  assert.equal(m.find(conn({ remotePort: 1235 })), 'dflt');
});

test('full precedence: earlier criteria decide before later ones', () => {
  const m = compile([
    ['by-port', { destination_port: 8080 }],
    ['by-sni-and-src', { server_names: ['a.com'], source_prefix_ranges: [cidr('1.2.3.4', 32)] }],
    ['by-src', { source_prefix_ranges: [cidr('1.2.3.4', 32)] }],
  ]);
  // destination port is the first criterion: it wins even though source/SNI are more specific elsewhere.
  assert.equal(m.find(conn({ localPort: 8080, sni: 'a.com', remoteAddress: '1.2.3.4' })), 'by-port');
  assert.equal(m.find(conn({ localPort: 1, sni: 'a.com', remoteAddress: '1.2.3.4' })), 'by-sni-and-src');
  assert.equal(m.find(conn({ localPort: 1, sni: 'b.com', remoteAddress: '1.2.3.4' })), 'by-src');
  // SNI matched a.com, so the source step only sees by-sni-and-src: no fall back to by-src.
  assert.equal(m.find(conn({ localPort: 1, sni: 'a.com', remoteAddress: '9.9.9.9' })), undefined);
});

test('Istio virtualInbound-like chains: port + transport + ALPN', () => {
  const m = compile([
    ['passthrough-raw', { transport_protocol: 'raw_buffer' }],
    ['passthrough-tls', { transport_protocol: 'tls' }],
    ['9080-mtls-http', { destination_port: 9080, transport_protocol: 'tls', application_protocols: ['istio-http/1.0', 'istio-http/1.1', 'istio-h2'] }],
    ['9080-mtls-tcp', { destination_port: 9080, transport_protocol: 'tls' }],
    ['9080-plain-http', { destination_port: 9080, transport_protocol: 'raw_buffer', application_protocols: ['http/1.1', 'h2c'] }],
    ['9080-plain-tcp', { destination_port: 9080, transport_protocol: 'raw_buffer' }],
  ], 'blackhole');
  assert.equal(m.find(conn({ localPort: 9080, transportProtocol: 'tls', alpn: ['istio-peer-exchange', 'istio-http/1.1'] })), '9080-mtls-http');
  assert.equal(m.find(conn({ localPort: 9080, transportProtocol: 'tls', alpn: ['istio-peer-exchange', 'istio'] })), '9080-mtls-tcp');
  assert.equal(m.find(conn({ localPort: 9080, transportProtocol: 'raw_buffer', alpn: ['http/1.1'] })), '9080-plain-http');
  assert.equal(m.find(conn({ localPort: 9080, transportProtocol: 'raw_buffer', alpn: [] })), '9080-plain-tcp');
  assert.equal(m.find(conn({ localPort: 3306, transportProtocol: 'raw_buffer' })), 'passthrough-raw');
  assert.equal(m.find(conn({ localPort: 3306, transportProtocol: 'tls' })), 'passthrough-tls');
});

test('non-IP (pipe) addresses only match chains without port/IP criteria', () => {
  const m = compile([
    ['any', {}],
    ['port', { destination_port: 80 }],
    ['v4', { prefix_ranges: [cidr('10.0.0.0', 8)] }],
  ]);
  assert.equal(m.find(conn({ localAddress: '/tmp/x.sock', localPort: 80, remoteAddress: '', directRemoteAddress: '' })), 'any');
});

test('identical matches are rejected naming both chains', () => {
  assert.throws(() => compile([['a', { destination_port: 80 }], ['b', { destination_port: 80 }]]), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.path, 'filter_chains[1].filter_chain_match');
    assert.match(e.message, /filter chain 'b' has the same matching rules defined as 'a'/);
    return true;
  });
  assert.throws(() => compile([['a', undefined], ['b', {}]]), /same matching rules/);
});

test('overlapping matches are rejected', () => {
  const cases: Array<Array<[string, Plain]>> = [
    [['a', { server_names: ['x.com', 'y.com'] }], ['b', { server_names: ['y.com'] }]],
    [['a', { source_ports: [1, 2] }], ['b', { source_ports: [2, 3] }]],
    [['a', { prefix_ranges: [cidr('10.0.0.0', 8)] }], ['b', { prefix_ranges: [cidr('10.1.2.3', 8)] }]],
    [['a', {}], ['b', { prefix_ranges: [cidr('0.0.0.0', 0)] }]],
    [['a', { application_protocols: ['h2'] }], ['b', { application_protocols: ['h2', 'http/1.1'] }]],
  ];
  for (const c of cases) {
    assert.throws(() => compile(c), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.path, 'filter_chains[1].filter_chain_match');
      assert.match(e.message, /multiple filter chains with overlapping matching rules are defined/);
      return true;
    });
  }
});

test('distinct source types do not overlap', () => {
  const m = compile([['a', {}], ['b', { source_type: 'EXTERNAL' }], ['c', { source_type: 'SAME_IP_OR_LOOPBACK' }]]);
  assert.equal(m.find(conn({ remoteAddress: '8.8.8.8' })), 'b');
});

test('invalid matches are rejected with field paths', () => {
  const bad: Array<[Plain, string, RegExp]> = [
    [{ prefix_ranges: [cidr('10.0.0.300', 8)] }, 'filter_chains[0].filter_chain_match.prefix_ranges[0]', /malformed IP address/],
    [{ source_prefix_ranges: [cidr('10.0.0.0', 33)] }, 'filter_chains[0].filter_chain_match.source_prefix_ranges[0]', /invalid prefix length/],
    [{ direct_source_prefix_ranges: [cidr('zz::', 8)] }, 'filter_chains[0].filter_chain_match.direct_source_prefix_ranges[0]', /malformed/],
    [{ address_suffix: 'x' }, 'filter_chains[0].filter_chain_match', /not implemented/],
    [{ suffix_len: 3 }, 'filter_chains[0].filter_chain_match', /not implemented/],
    [{ destination_port: 70000 }, 'filter_chains[0].filter_chain_match.destination_port', /65535/],
    [{ source_ports: [1, 65536] }, 'filter_chains[0].filter_chain_match.source_ports[1]', /65535/],
    [{ source_type: 'SOMETIMES' }, 'filter_chains[0].filter_chain_match.source_type', /unknown source_type/],
  ];
  for (const [match, path, re] of bad) {
    assert.throws(() => compile([['x', match]]), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.equal(e.path, path);
      assert.match(e.message, re);
      return true;
    });
  }
});

test('default chain is used only when nothing matches', () => {
  const m = compile([['tls', { transport_protocol: 'tls' }]], 'dflt');
  assert.equal(m.find(conn({ transportProtocol: 'tls' })), 'tls');
  assert.equal(m.find(conn({ transportProtocol: 'raw_buffer' })), 'dflt');
  assert.equal(m.defaultChain, 'dflt');
});

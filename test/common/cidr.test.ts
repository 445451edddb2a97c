import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { CidrRange, LpmTable, formatIp, isLoopback, normalizeIpString, parseIp } from '../../src/common/cidr';

test('parseIp: IPv4', () => {
  assert.deepEqual([...parseIp('1.2.3.4')!.bytes], [1, 2, 3, 4]);
  assert.equal(parseIp('1.2.3.4')!.family, 4);
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', 'a.b.c.d', '1.2.3.4 ']) {
    assert.equal(parseIp(bad), null, bad);
  }
});

test('parseIp: IPv6 forms', () => {
  assert.equal(formatIp(parseIp('::')!), '::');
  assert.equal(formatIp(parseIp('::1')!), '::1');
  assert.equal(formatIp(parseIp('2001:DB8:0:0:0:0:0:1')!), '2001:db8::1');
  assert.equal(formatIp(parseIp('[fe80::1%eth0]')!), 'fe80::1');
  assert.equal(formatIp(parseIp('64:ff9b::1.2.3.4')!), '64:ff9b::102:304');
  assert.equal(formatIp(parseIp('1:0:0:2:0:0:0:3')!), '1:0:0:2::3');
  for (const bad of ['1::2::3', ':1:2', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '12345::', 'g::1', '1::2:3:4:5:6:7:8']) {
    assert.equal(parseIp(bad), null, bad);
  }
});

test('IPv4-mapped IPv6 is normalised to IPv4', () => {
  const ip = parseIp('::ffff:10.1.2.3')!;
  assert.equal(ip.family, 4);
  assert.equal(formatIp(ip), '10.1.2.3');
  assert.equal(normalizeIpString('::ffff:10.1.2.3'), '10.1.2.3');
  assert.equal(normalizeIpString('::1'), '::1');
  assert.equal(normalizeIpString('10.0.0.1'), '10.0.0.1');
});

test('isLoopback', () => {
  assert.ok(isLoopback(parseIp('127.0.0.1')!));
  assert.ok(isLoopback(parseIp('127.255.0.9')!));
  assert.ok(isLoopback(parseIp('::1')!));
  assert.ok(!isLoopback(parseIp('10.0.0.1')!));
  assert.ok(!isLoopback(parseIp('::2')!));
});

test('CidrRange: masking, contains, text', () => {
  const r = CidrRange.create('10.1.2.3', 8);
  assert.equal(r.toString(), '10.0.0.0/8');
  assert.ok(r.contains(parseIp('10.200.0.1')!));
  assert.ok(!r.contains(parseIp('11.0.0.1')!));
  assert.ok(!r.contains(parseIp('::1')!));
  assert.equal(CidrRange.create('2001:db8:ffff::', 33).toString(), '2001:db8:8000::/33');
  assert.ok(CidrRange.create('0.0.0.0', 0).contains(parseIp('255.1.2.3')!));
  assert.ok(CidrRange.create('10.0.0.0', 12).contains(parseIp('10.15.255.255')!));
  assert.ok(!CidrRange.create('10.0.0.0', 12).contains(parseIp('10.16.0.0')!));
  assert.throws(() => CidrRange.create('10.0.0.0', 33), /invalid prefix length/);
  assert.throws(() => CidrRange.create('::', 129), /invalid prefix length/);
  assert.throws(() => CidrRange.create('example.com', 8), /malformed IP address/);
  assert.equal(CidrRange.fromPlain({ address_prefix: '192.168.0.1' }).toString(), '0.0.0.0/0');
  assert.equal(CidrRange.fromPlain({ address_prefix: '192.168.0.1', prefix_len: 24 }).toString(), '192.168.0.0/24');
});

test('LpmTable: longest prefix wins across families; duplicates refused', () => {
  const t = new LpmTable<string>();
  assert.ok(t.add(CidrRange.create('0.0.0.0', 0), 'any4'));
  assert.ok(t.add(CidrRange.create('10.0.0.0', 8), '10/8'));
  assert.ok(t.add(CidrRange.create('10.1.0.0', 16), '10.1/16'));
  assert.ok(t.add(CidrRange.create('10.1.2.3', 32), 'host'));
  assert.ok(t.add(CidrRange.create('::', 0), 'any6'));
  assert.ok(t.add(CidrRange.create('fd00::', 8), 'ula'));
  assert.ok(!t.add(CidrRange.create('10.9.9.9', 8), 'dup'));
  assert.equal(t.lookup(parseIp('10.1.2.3')!), 'host');
  assert.equal(t.lookup(parseIp('10.1.2.4')!), '10.1/16');
  assert.equal(t.lookup(parseIp('10.2.0.0')!), '10/8');
  assert.equal(t.lookup(parseIp('9.0.0.0')!), 'any4');
  assert.equal(t.lookup(parseIp('fd12::1')!), 'ula');
  assert.equal(t.lookup(parseIp('2001::1')!), 'any6');
  assert.equal(t.size, 6);
  const empty = new LpmTable<string>();
  assert.equal(empty.lookup(parseIp('1.1.1.1')!), undefined);
});

import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import * as fs from 'node:fs';
import { ListenerManager, ListenerBindError } from '../../src/listener/listener_manager';
import { ConfigError } from '../../src/config/errors';
import {
  Client, ECHO, GATE, NOOP, PEEK, closedPort, connect, destroyedTags, echoChain, fileAccessLog, listenerConfig, makeCtx,
  readLog, seen, sleep, tmpFile, waitFor,
} from './helpers';

function src(ip: string) { return { source_prefix_ranges: [{ address_prefix: ip, prefix_len: 32 }] }; }

async function withManager(opts: { drainTimeMs?: number }, fn: (lm: ListenerManager, ctx: ReturnType<typeof makeCtx>) => Promise<void>): Promise<void> {
  const ctx = makeCtx(opts);
  const lm = new ListenerManager(ctx);
  try { await fn(lm, ctx); } finally { lm.close(); }
}

function port(lm: ListenerManager, name: string): number { return lm.get(name)!.port; }

test('listener accepts, runs the echo chain, keeps Envoy listener stats', async () => {
  await withManager({}, async (lm, ctx) => {
    assert.equal(await lm.addOrUpdate(listenerConfig('l1', [echoChain('a')])), true);
    const p = port(lm, 'l1');
    assert.ok(p > 0);
    const c = await Client.open(p);
    await c.until('hello a\n');
    c.write('ping');
    await c.until('ping');
    const pre = `listener.127.0.0.1_0.`;
    assert.equal(ctx.stats.counters.get(pre + 'downstream_cx_total')!.value, 1);
    assert.equal(ctx.stats.gauges.get(pre + 'downstream_cx_active')!.value, 1);
    c.socket.end();
    await c.waitClosed();
    await waitFor(() => ctx.stats.gauges.get(pre + 'downstream_cx_active')!.value === 0);
    assert.equal(ctx.stats.counters.get(pre + 'downstream_cx_destroy')!.value, 1);
    assert.equal(ctx.stats.histograms.get(pre + 'downstream_cx_length_ms')!.count, 1);
    assert.equal(ctx.stats.counters.get('listener_manager.listener_added')!.value, 1);
    assert.equal(ctx.stats.counters.get('listener_manager.listener_create_success')!.value, 1);
    assert.equal(ctx.stats.gauges.get('listener_manager.total_listeners_active')!.value, 1);
    const ls = lm.listeners();
    assert.equal(ls.length, 1);
    assert.equal(ls[0].name, 'l1');
    assert.equal(ls[0].localAddress, `127.0.0.1:${p}`);
    assert.equal(ls[0].port, p);
    const s = seen[seen.length - 1];
    assert.equal(s.info.listenerName, 'l1');
    assert.equal(s.info.filterChainName, 'a');
    assert.equal(s.info.localAddress, '127.0.0.1');
    assert.equal(s.info.localPort, p);
    assert.equal(s.info.remoteAddress, '127.0.0.1');
    assert.equal(s.info.transportProtocol, 'raw_buffer');
  });
});

test('stat_prefix replaces the address in listener stats', async () => {
  await withManager({}, async (lm, ctx) => {
    await lm.addOrUpdate(listenerConfig('l1', [echoChain('a')], { stat_prefix: 'ingress' }));
    const c = await Client.open(port(lm, 'l1'));
    await c.until('hello a');
    assert.equal(ctx.stats.counters.get('listener.ingress.downstream_cx_total')!.value, 1);
    c.destroy();
  });
});

test('IPv6 listener: Envoy address text and stat name', async () => {
  await withManager({}, async (lm, ctx) => {
    await lm.addOrUpdate({ name: 'v6', address: { socket_address: { address: '::1', port_value: 0 } }, filter_chains: [echoChain('a')] });
    const p = port(lm, 'v6');
    assert.equal(lm.listeners()[0].localAddress, `[::1]:${p}`);
    const c = new Client(await connect(p, undefined, '::1'));
    await c.until('hello a');
    assert.equal(ctx.stats.counters.get('listener.[__1]_0.downstream_cx_total')!.value, 1);
    c.destroy();
  });
});

test('filter chain selection on real connections: source address chooses the chain, default chain catches the rest', async () => {
  await withManager({}, async (lm) => {
    await lm.addOrUpdate(listenerConfig('l1', [echoChain('two', src('127.0.0.2')), echoChain('three', src('127.0.0.3'))],
      { default_filter_chain: echoChain('dflt') }));
    const p = port(lm, 'l1');
    const a = await Client.open(p, '127.0.0.2');
    const b = await Client.open(p, '127.0.0.3');
    const d = await Client.open(p, '127.0.0.4');
    await a.until('hello two');
    await b.until('hello three');
    await d.until('hello dflt');
    for (const c of [a, b, d]) c.destroy();
  });
});

test('no matching filter chain: connection closed, no_filter_chain_match, NR access log', async () => {
  const file = tmpFile('nr.log');
  await withManager({}, async (lm, ctx) => {
    await lm.addOrUpdate(listenerConfig('l1', [echoChain('two', src('127.0.0.2'))], {
      access_log: [fileAccessLog(file, '%RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%')],
    }));
    const c = await Client.open(port(lm, 'l1'), '127.0.0.9');
    await c.waitClosed();
    assert.equal(c.data, '');
    const pre = 'listener.127.0.0.1_0.';
    assert.equal(ctx.stats.counters.get(pre + 'no_filter_chain_match')!.value, 1);
    assert.equal(ctx.stats.counters.get(pre + 'downstream_cx_total')!.value, 0);
    const lines = await readLog(file);
    assert.deepEqual(lines, ['NR filter_chain_not_found 127.0.0.9']);
  });
  fs.rmSync(file, { force: true });
});

test('listener access log is written when a connection closes', async () => {
  const file = tmpFile('cx.log');
  await withManager({}, async (lm) => {
    await lm.addOrUpdate(listenerConfig('l1', [echoChain('a')], {
      access_log: [fileAccessLog(file, 'cx %RESPONSE_FLAGS% %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%')],
    }));
    const c = await Client.open(port(lm, 'l1'));
    await c.until('hello a');
    c.socket.end();
    await c.waitClosed();
    let lines: string[] = [];
    for (let i = 0; i < 50 && lines.length === 0; i++) { lines = await readLog(file); if (!lines.length) await sleep(10); }
    assert.deepEqual(lines, ['cx - 127.0.0.1']);
  });
  fs.rmSync(file, { force: true });
});

test('non-terminal filters: continue, pause + continueReading, reject, throw', async () => {
  await withManager({}, async (lm) => {
    const chain = (tag: string, action: string, ip: string) => ({
      name: tag,
      filter_chain_match: src(ip),
      filters: [
        { name: 'gate', typed_config: { '@type': GATE, action, pauseMs: 30 } },
        { name: 'echo', typed_config: { '@type': ECHO, tag } },
      ],
    });
    await lm.addOrUpdate(listenerConfig('l1', [
      chain('go', 'continue', '127.0.0.2'), chain('paused', 'pause', '127.0.0.3'),
      chain('no', 'reject', '127.0.0.4'), chain('boom', 'throw', '127.0.0.5'),
    ]));
    const p = port(lm, 'l1');
    const go = await Client.open(p, '127.0.0.2');
    await go.until('hello go');
    const t0 = Date.now();
    const paused = await Client.open(p, '127.0.0.3');
    paused.write('early');
    await paused.until('hello paused\nearly');
    assert.ok(Date.now() - t0 >= 25, 'the echo ran only after the gate continued');
    const no = Client.loose(p, '127.0.0.4');
    await no.waitClosed();
    assert.equal(no.data, '');
    const boom = Client.loose(p, '127.0.0.5');
    await boom.waitClosed();
    assert.equal(boom.data, '');
    go.destroy(); paused.destroy();
  });
});

test('noop extensions (registry noop: true) pass connections on', async () => {
  await withManager({}, async (lm) => {
    await lm.addOrUpdate(listenerConfig('l1', [{
      name: 'n',
      filters: [{ name: 'istio.metadata_exchange', typed_config: { '@type': NOOP } }, { name: 'echo', typed_config: { '@type': ECHO, tag: 'after-noop' } }],
    }]));
    const c = await Client.open(port(lm, 'l1'));
    await c.until('hello after-noop');
    c.destroy();
  });
});

test('a chain with no filters closes its connections', async () => {
  await withManager({}, async (lm) => {
    await lm.addOrUpdate(listenerConfig('l1', [{ name: 'empty', filters: [] }]));
    const c = await Client.open(port(lm, 'l1'));
    await c.waitClosed();
  });
});

test('config errors name the field path', async () => {
  await withManager({}, async (lm) => {
    const cases: Array<[object, string, RegExp]> = [
      [listenerConfig('x', [{ filters: [{ name: 'nope', typed_config: { '@type': 'type.googleapis.com/acme.Unknown' } }] }]),
        'filter_chains[0].filters[0].typed_config', /unknown network filter type "type.googleapis.com\/acme.Unknown"/],
      [listenerConfig('x', [{ filters: [{ name: 'gate', typed_config: { '@type': GATE } }] }]),
        'filter_chains[0].filters[0].typed_config', /non-terminal filter named gate of type remora.test.Gate is the last filter/],
      [listenerConfig('x', [{ filters: [{ name: 'echo', typed_config: { '@type': ECHO } }, { name: 'gate', typed_config: { '@type': GATE } }] }]),
        'filter_chains[0].filters[0].typed_config', /terminal filter named echo of type remora.test.Echo must be the last filter/],
      [listenerConfig('x', [{ filters: [{ name: 'nocfg' }] }]), 'filter_chains[0].filters[0]', /has no typed_config/],
      [listenerConfig('x', [echoChain('a')], { listener_filters: [{ name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' } }] }),
        'listener_filters[0].typed_config', /envoy.filters.listener.tls_inspector is not supported by this remora build yet/],
      [listenerConfig('x', [echoChain('a')], { listener_filters: [{ name: 'envoy.filters.listener.original_dst', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst' } }] }),
        'listener_filters[0].typed_config', /original_dst is not supported/],
      [listenerConfig('x', [echoChain('a')], { listener_filters: [{ name: 'envoy.filters.listener.http_inspector', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector' } }] }),
        'listener_filters[0].typed_config', /http_inspector is not supported/],
      [listenerConfig('x', [echoChain('a')], { listener_filters: [{ name: 'x', typed_config: { '@type': 'type.googleapis.com/acme.Lf' } }] }),
        'listener_filters[0].typed_config', /unknown listener filter type/],
      [listenerConfig('x', [{ ...echoChain('a'), transport_socket: { name: 'envoy.transport_sockets.tls', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext' } } }]),
        'filter_chains[0].transport_socket.typed_config', /downstream TLS .* not supported/],
      [listenerConfig('x', [{ ...echoChain('a'), transport_socket: { name: 'acme', typed_config: { '@type': 'type.googleapis.com/acme.Ts' } } }]),
        'filter_chains[0].transport_socket.typed_config', /unknown transport socket/],
      [listenerConfig('x', [echoChain('a')], { use_original_dst: true }), 'use_original_dst', /not supported/],
      [listenerConfig('x', [echoChain('a')], { transparent: true }), 'transparent', /not supported/],
      [listenerConfig('x', [echoChain('a')], { filter_chain_matcher: {} }), 'filter_chain_matcher', /not supported/],
      [listenerConfig('x', []), 'filter_chains', /no filter chains specified/],
      [{ name: 'x', address: { socket_address: { address: 'localhost', port_value: 1 } }, filter_chains: [echoChain('a')] },
        'address.socket_address.address', /malformed IP address: localhost/],
      [{ name: 'x', address: { socket_address: { address: '127.0.0.1', port_value: 1, protocol: 'UDP' } }, filter_chains: [echoChain('a')] },
        'address.socket_address.protocol', /UDP listeners are not supported/],
      [{ name: 'x', filter_chains: [echoChain('a')] }, 'address', /address is required/],
      [listenerConfig('x', [echoChain('a', { destination_port: 1 }), echoChain('b', { destination_port: 1 })]),
        'filter_chains[1].filter_chain_match', /has the same matching rules defined as 'a'/],
      [listenerConfig('x', [echoChain('a')], { access_log: [{ name: 'x', typed_config: { '@type': 'type.googleapis.com/acme.Log' } }] }),
        'access_log[0].typed_config', /unknown type/],
    ];
    for (const [cfg, path, re] of cases) {
      await assert.rejects(lm.addOrUpdate(cfg), (e: unknown) => {
        assert.ok(e instanceof ConfigError, `${path}: ${String(e)}`);
        assert.equal(e.path, path);
        assert.match(e.message, re);
        return true;
      });
      assert.throws(() => lm.validate(cfg), ConfigError);
    }
    assert.equal(lm.listeners().length, 0);
    // raw_buffer is accepted
    await lm.addOrUpdate(listenerConfig('ok', [{ ...echoChain('a'), transport_socket: { name: 'envoy.transport_sockets.raw_buffer', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer' } } }],
      { connection_balance_config: { exact_balance: {} }, traffic_direction: 'OUTBOUND' }));
    assert.equal(lm.listeners()[0].trafficDirection, 'OUTBOUND');
  });
});

test('a failed compile destroys the filter factories it built', async () => {
  await withManager({}, async (lm) => {
    const before = destroyedTags.length;
    await assert.rejects(lm.addOrUpdate(listenerConfig('x', [echoChain('built-then-dropped'), { name: 'bad', filters: [{ name: 'g', typed_config: { '@type': GATE } }] }])));
    assert.deepEqual(destroyedTags.slice(before), ['built-then-dropped']);
  });
});

test('bind errors: EADDRINUSE is a clear error and leaves nothing behind', async () => {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  const taken = (blocker.address() as net.AddressInfo).port;
  try {
    await withManager({}, async (lm, ctx) => {
      await assert.rejects(lm.addOrUpdate(listenerConfig('l1', [echoChain('a')], {}, taken)), (e: unknown) => {
        assert.ok(e instanceof ListenerBindError);
        assert.equal(e.message, `cannot bind '127.0.0.1:${taken}': Address already in use`);
        assert.equal(e.code, 'EADDRINUSE');
        return true;
      });
      assert.equal(lm.listeners().length, 0);
      assert.equal(ctx.stats.counters.get('listener_manager.listener_create_failure')!.value, 1);
      // A failed update keeps the old listener serving.
      await lm.addOrUpdate(listenerConfig('l1', [echoChain('a')]));
      const p = port(lm, 'l1');
      await assert.rejects(lm.addOrUpdate(listenerConfig('l1', [echoChain('a')], {}, taken)), ListenerBindError);
      const c = await Client.open(p);
      await c.until('hello a');
      c.destroy();
      assert.equal(port(lm, 'l1'), p);
    });
  } finally {
    blocker.close();
  }
});

test('identical update changes nothing', async () => {
  await withManager({}, async (lm, ctx) => {
    await lm.addOrUpdate(listenerConfig('l1', [echoChain('a')]));
    const c = await Client.open(port(lm, 'l1'));
    await c.until('hello a');
    assert.equal(await lm.addOrUpdate(listenerConfig('l1', [echoChain('a')])), false);
    assert.equal(ctx.stats.counters.get('listener_manager.listener_modified')!.value, 0);
    await sleep(50);
    assert.equal(c.data, 'hello a\n');
    c.destroy();
  });
});

test('in-place update: unchanged chains keep their connections, changed chains drain', async () => {
  await withManager({ drainTimeMs: 250 }, async (lm, ctx) => {
    await lm.addOrUpdate(listenerConfig('l1', [echoChain('keep', src('127.0.0.2')), echoChain('change', src('127.0.0.3'))]));
    const p = port(lm, 'l1');
    const keep = await Client.open(p, '127.0.0.2');
    const change = await Client.open(p, '127.0.0.3');
    await keep.until('hello keep');
    await change.until('hello change');
    const before = destroyedTags.length;

    const updated = listenerConfig('l1', [echoChain('keep', src('127.0.0.2')), echoChain('change-v2', src('127.0.0.3'), 'change')]);
    assert.equal(await lm.addOrUpdate(updated), true);
    assert.equal(port(lm, 'l1'), p, 'same socket');
    assert.equal(ctx.stats.counters.get('listener_manager.listener_modified')!.value, 1);
    assert.equal(ctx.stats.counters.get('listener_manager.listener_in_place_updated')!.value, 1);
    await change.until('draining\n');
    assert.equal(ctx.stats.gauges.get('listener_manager.total_filter_chains_draining')!.value, 1);
    // New connections on the changed chain get the new config.
    const fresh = await Client.open(p, '127.0.0.3');
    await fresh.until('hello change-v2');
    // The changed chain's old connection is closed after the drain time; the kept one survives.
    await change.waitClosed(2000);
    assert.ok(!keep.closed);
    assert.ok(!keep.data.includes('draining'));
    keep.write('still here');
    await keep.until('still here');
    await waitFor(() => ctx.stats.gauges.get('listener_manager.total_filter_chains_draining')!.value === 0);
    assert.deepEqual(destroyedTags.slice(before), ['change']);
    keep.destroy(); fresh.destroy();
  });
});

test('in-place update: a drained chain whose connections close early is destroyed at once', async () => {
  await withManager({ drainTimeMs: 10_000 }, async (lm, ctx) => {
    await lm.addOrUpdate(listenerConfig('l1', [echoChain('x')]));
    const c = await Client.open(port(lm, 'l1'));
    await c.until('hello x');
    await lm.addOrUpdate(listenerConfig('l1', [echoChain('y', undefined, 'x')]));
    await c.until('draining');
    c.destroy();
    await waitFor(() => ctx.stats.gauges.get('listener_manager.total_filter_chains_draining')!.value === 0, 2000);
  });
});

test('listener-level change on the same address keeps the socket and drains every old connection', async () => {
  await withManager({ drainTimeMs: 150 }, async (lm, ctx) => {
    await lm.addOrUpdate(listenerConfig('l1', [echoChain('a')]));
    const p = port(lm, 'l1');
    const old = await Client.open(p);
    await old.until('hello a');
    await lm.addOrUpdate(listenerConfig('l1', [echoChain('a')], { per_connection_buffer_limit_bytes: 65536 }));
    assert.equal(port(lm, 'l1'), p);
    assert.equal(ctx.stats.counters.get('listener_manager.listener_in_place_updated')!.value, 0);
    assert.equal(ctx.stats.counters.get('listener_manager.listener_modified')!.value, 1);
    await old.until('draining');
    const fresh = await Client.open(p);
    await fresh.until('hello a');
    assert.equal((seen[seen.length - 1].conn).bufferLimitBytes, 65536);
    await old.waitClosed(2000);
    fresh.destroy();
  });
});

test('address change: the new listener binds first, the old one stops accepting and drains', async () => {
  await withManager({ drainTimeMs: 150 }, async (lm, ctx) => {
    await lm.addOrUpdate(listenerConfig('l1', [echoChain('a')]));
    const oldPort = port(lm, 'l1');
    const old = await Client.open(oldPort);
    await old.until('hello a');
    const newPort = await closedPort();
    await lm.addOrUpdate(listenerConfig('l1', [echoChain('b')], {}, newPort));
    assert.equal(port(lm, 'l1'), newPort);
    const fresh = await Client.open(newPort);
    await fresh.until('hello b');
    await assert.rejects(connect(oldPort), /ECONNREFUSED/);
    await old.until('draining');
    assert.equal(lm.drainingListeners().length, 1);
    await old.waitClosed(2000);
    await waitFor(() => lm.drainingListeners().length === 0);
    assert.equal(ctx.stats.counters.get('listener_manager.listener_modified')!.value, 1);
    assert.equal(ctx.stats.gauges.get('listener_manager.total_listeners_active')!.value, 1);
    fresh.destroy();
  });
});

test('remove: stop accepting now, drain, then close', async () => {
  await withManager({ drainTimeMs: 150 }, async (lm, ctx) => {
    await lm.addOrUpdate(listenerConfig('l1', [echoChain('gone')]));
    const p = port(lm, 'l1');
    const c = await Client.open(p);
    await c.until('hello gone');
    const before = destroyedTags.length;
    assert.equal(lm.remove('l1'), true);
    assert.equal(lm.remove('l1'), false);
    await assert.rejects(connect(p), /ECONNREFUSED/);
    await c.until('draining');
    await c.waitClosed(2000);
    await waitFor(() => destroyedTags.length > before);
    assert.deepEqual(destroyedTags.slice(before), ['gone']);
    assert.equal(ctx.stats.counters.get('listener_manager.listener_removed')!.value, 1);
    assert.equal(ctx.stats.gauges.get('listener_manager.total_listeners_active')!.value, 0);
    await waitFor(() => ctx.stats.gauges.get('listener_manager.total_listeners_draining')!.value === 0);
  });
});

test('drainAll graceful: connections drain, new ones are born draining, then listeners stop and connections close', async () => {
  await withManager({ drainTimeMs: 200 }, async (lm, ctx) => {
    await lm.addOrUpdate(listenerConfig('in', [echoChain('in')], { traffic_direction: 'INBOUND' }));
    await lm.addOrUpdate(listenerConfig('out', [echoChain('out')], { traffic_direction: 'OUTBOUND' }));
    const pin = port(lm, 'in'), pout = port(lm, 'out');
    const a = await Client.open(pin);
    const b = await Client.open(pout);
    await a.until('hello in'); await b.until('hello out');
    const done = lm.drainAll({ graceful: true, inboundOnly: true });
    await a.until('draining');
    const late = await Client.open(pin);
    await late.until('hello in\ndraining\n');
    await done;
    await a.waitClosed(); await late.waitClosed();
    await assert.rejects(connect(pin), /ECONNREFUSED/);
    // The outbound listener was not touched.
    assert.ok(!b.data.includes('draining'));
    const b2 = await Client.open(pout);
    await b2.until('hello out');
    assert.equal(ctx.stats.counters.get('listener_manager.listener_stopped')!.value, 1);
    b.destroy(); b2.destroy();
  });
});

test('drainAll not graceful: stop accepting now, existing connections continue', async () => {
  await withManager({ drainTimeMs: 10_000 }, async (lm) => {
    await lm.addOrUpdate(listenerConfig('l1', [echoChain('a')]));
    await lm.addOrUpdate(listenerConfig('keep', [echoChain('k')], { drain_type: 'MODIFY_ONLY' }));
    const p = port(lm, 'l1');
    const c = await Client.open(p);
    await c.until('hello a');
    await lm.drainAll({ graceful: false });
    await assert.rejects(connect(p), /ECONNREFUSED/);
    c.write('x');
    await c.until('hello a\nx');
    const k = await Client.open(port(lm, 'keep'));
    await k.until('hello k');
    c.destroy(); k.destroy();
  });
});

test('stopListening and close', async () => {
  const ctx = makeCtx();
  const lm = new ListenerManager(ctx);
  await lm.addOrUpdate(listenerConfig('l1', [echoChain('a')]));
  const p = port(lm, 'l1');
  const c = await Client.open(p);
  await c.until('hello a');
  lm.stopListening();
  await assert.rejects(connect(p), /ECONNREFUSED/);
  lm.close();
  await c.waitClosed();
  await assert.rejects(lm.addOrUpdate(listenerConfig('l2', [echoChain('a')])), /closed/);
});

test('validate mode (bind: false) compiles but never listens', async () => {
  const p = await closedPort();
  const lm = new ListenerManager(makeCtx(), { bind: false });
  await lm.addOrUpdate(listenerConfig('l1', [echoChain('a')], {}, p));
  assert.equal(lm.listeners()[0].localAddress, `127.0.0.1:${p}`);
  await assert.rejects(connect(p), /ECONNREFUSED/);
  lm.close();
});

test('unnamed listeners get a generated name; bind_to_port false listeners do not bind', async () => {
  await withManager({}, async (lm) => {
    const p = await closedPort();
    const cfg = listenerConfig('', [echoChain('a')], { bind_to_port: false }, p);
    await lm.addOrUpdate(cfg);
    assert.equal(lm.listeners().length, 1);
    assert.match(lm.listeners()[0].name, /^remora-listener-/);
    await assert.rejects(connect(p), /ECONNREFUSED/);
  });
});

test('pipe (unix socket) listener', async () => {
  const sock = tmpFile('l.sock');
  await withManager({}, async (lm, ctx) => {
    await lm.addOrUpdate({ name: 'uds', address: { pipe: { path: sock, mode: 0o600 } }, filter_chains: [echoChain('uds')] });
    assert.equal(lm.listeners()[0].localAddress, sock);
    assert.equal(fs.statSync(sock).mode & 0o777, 0o600);
    const s = net.connect({ path: sock });
    const c = new Client(s);
    await c.until('hello uds');
    const info = seen[seen.length - 1].info;
    assert.equal(info.localAddress, sock);
    assert.equal(ctx.stats.counters.get(`listener.${sock}.downstream_cx_total`)!.value, 1);
    c.destroy();
  });
  fs.rmSync(sock, { force: true });
});

test('listener filters: bytes read for inspection are replayed as initialData; info they set drives matching', async () => {
  await withManager({}, async (lm, ctx) => {
    await lm.addOrUpdate(listenerConfig('l1', [echoChain('sni-a', { server_names: ['a.test'] }), echoChain('other')], {
      listener_filters: [{ name: 'peek', typed_config: { '@type': PEEK, bytes: 7 } }],
    }));
    const p = port(lm, 'l1');
    const a = await Client.open(p);
    a.write('a.t');
    await sleep(20);
    a.write('est|payload');
    await a.until('hello sni-a\na.test|payload');
    assert.equal(seen[seen.length - 1].info.sni, 'a.test');
    const o = await Client.open(p);
    o.write('zzzzzzzz');
    await o.until('hello other\nzzzzzzzz');
    assert.equal(ctx.stats.gauges.get('listener.127.0.0.1_0.downstream_pre_cx_active')!.value, 0);
    a.destroy(); o.destroy();
  });
});

test('listener filters: filter_disabled skips the filter; peer close while inspecting is counted', async () => {
  await withManager({}, async (lm, ctx) => {
    await lm.addOrUpdate(listenerConfig('l1', [echoChain('a')], {
      listener_filters: [{ name: 'peek', typed_config: { '@type': PEEK, bytes: 4 }, filter_disabled: { any_match: true } }],
    }));
    const c = await Client.open(port(lm, 'l1'));
    await c.until('hello a');
    c.destroy();
    await lm.addOrUpdate(listenerConfig('l2', [echoChain('b')], {
      listener_filters: [{ name: 'peek', typed_config: { '@type': PEEK, bytes: 4 }, filter_disabled: { not_match: { any_match: true } } }],
    }, 0));
    const d = await Client.open(port(lm, 'l2'));
    d.write('ab');
    await sleep(20);
    d.socket.end();
    await d.waitClosed();
    assert.equal(d.data, '');
    await waitFor(() => (ctx.stats.counters.get('listener.127.0.0.1_0.downstream_listener_filter_remote_close')?.value ?? 0) === 1);
  });
});

test('listener filters timeout: close, or continue with continue_on_listener_filters_timeout', async () => {
  await withManager({}, async (lm, ctx) => {
    const lf = [{ name: 'peek', typed_config: { '@type': PEEK, bytes: 4, never: true } }];
    await lm.addOrUpdate(listenerConfig('close', [echoChain('c')], { listener_filters: lf, listener_filters_timeout: 50, stat_prefix: 'lfc' }));
    await lm.addOrUpdate(listenerConfig('cont', [echoChain('k')], {
      listener_filters: lf, listener_filters_timeout: 50, continue_on_listener_filters_timeout: true, stat_prefix: 'lfk',
    }));
    const c = await Client.open(port(lm, 'close'));
    c.write('data');
    await c.waitClosed();
    assert.equal(c.data, '');
    const k = await Client.open(port(lm, 'cont'));
    k.write('data');
    await k.until('hello k\ndata');
    assert.equal(ctx.stats.counters.get('listener.lfc.downstream_pre_cx_timeout')!.value, 1);
    assert.equal(ctx.stats.counters.get('listener.lfk.downstream_pre_cx_timeout')!.value, 1);
    k.destroy();
  });
});

test('concurrent addOrUpdate calls are serialized', async () => {
  await withManager({}, async (lm) => {
    const results = await Promise.all([
      lm.addOrUpdate(listenerConfig('l1', [echoChain('a')])),
      lm.addOrUpdate(listenerConfig('l1', [echoChain('b', undefined, 'a')])),
      lm.addOrUpdate(listenerConfig('l1', [echoChain('b', undefined, 'a')])),
    ]);
    assert.deepEqual(results, [true, true, false]);
    const c = await Client.open(port(lm, 'l1'));
    await c.until('hello b');
    c.destroy();
  });
});

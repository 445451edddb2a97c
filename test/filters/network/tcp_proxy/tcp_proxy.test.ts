import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import * as fs from 'node:fs';
import { spawn, ChildProcess } from 'node:child_process';
import '../../../../src/filters/network/tcp_proxy/config';
import { TCP_PROXY_TYPE, TcpProxyConfig } from '../../../../src/filters/network/tcp_proxy/config';
import { hashString } from '../../../../src/filters/network/tcp_proxy/tcp_proxy';
import { ClusterManagerImpl } from '../../../../src/cluster/cluster_manager';
import type { Cluster, ClusterManager, LoadBalancerContext } from '../../../../src/cluster/types';
import { ListenerManager } from '../../../../src/listener/listener_manager';
import { ConfigError } from '../../../../src/config/errors';
import { Store } from '../../../../src/stats/stats';
import {
  Client, PEEK, closedPort, fileAccessLog, listenerConfig, makeCtx, readLog, silentLog, sleep, tmpFile, waitFor,
} from '../../../listener/helpers';

// ---- upstream servers on loopback ----

interface Upstream { server: net.Server; port: number; sockets: net.Socket[]; received: Buffer[]; close(): Promise<void> }

async function upstream(onConn: (s: net.Socket, u: Upstream) => void, opts: net.ServerOpts = {}): Promise<Upstream> {
  const u: Upstream = {
    server: net.createServer(opts), port: 0, sockets: [], received: [],
    close: () => new Promise<void>((r) => { for (const s of u.sockets) s.destroy(); u.server.close(() => r()); }),
  };
  u.server.on('connection', (s) => { u.sockets.push(s); s.on('error', () => {}); onConn(s, u); });
  await new Promise<void>((r) => u.server.listen(0, '127.0.0.1', () => r()));
  u.port = (u.server.address() as net.AddressInfo).port;
  return u;
}

const echoUpstream = () => upstream((s, u) => {
  s.on('data', (d: Buffer) => { u.received.push(d); s.write(d); });
  s.on('end', () => s.end());
});

function endpoint(port: number, address = '127.0.0.1') {
  return { endpoint: { address: { socket_address: { address, port_value: port } } } };
}

function staticCluster(name: string, ports: number[], extra: object = {}) {
  return {
    name, type: 'STATIC', connect_timeout: 1000, lb_policy: 'ROUND_ROBIN',
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: ports.map((p) => endpoint(p)) }] },
    ...extra,
  };
}

function tcpProxyChain(cfg: object) {
  return {
    name: 'tcp',
    filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': 'type.googleapis.com/' + TCP_PROXY_TYPE, stat_prefix: 'tp', ...cfg } }],
  };
}

interface Env { lm: ListenerManager; cm: ClusterManager; stats: Store; port: number; counter(n: string): number; gauge(n: string): number }

async function withProxy(
  clusters: object[], tcpCfg: object, fn: (env: Env) => Promise<void>,
  opts: { listener?: object; wrapCm?: (cm: ClusterManager) => ClusterManager; random?: () => number } = {},
): Promise<void> {
  const stats = new Store();
  const real = new ClusterManagerImpl({ stats, log: silentLog });
  for (const c of clusters) real.addOrUpdate(c);
  const cm = opts.wrapCm ? opts.wrapCm(real) : real;
  const ctx = { ...makeCtx({ stats, clusterManager: cm }), random: opts.random };
  const lm = new ListenerManager(ctx);
  try {
    await lm.addOrUpdate(listenerConfig('tcp', [tcpProxyChain(tcpCfg)], opts.listener ?? {}));
    const env: Env = {
      lm, cm, stats, port: lm.get('tcp')!.port,
      counter: (n) => stats.counters.get(n)?.value ?? 0,
      gauge: (n) => stats.gauges.get(n)?.value ?? 0,
    };
    await fn(env);
  } finally {
    lm.close();
    real.shutdown();
  }
}

const LOG_FORMAT = '%RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %UPSTREAM_HOST% %UPSTREAM_CLUSTER%';

test('echo end to end: bytes both ways, Envoy stats, access log', async () => {
  const up = await echoUpstream();
  const file = tmpFile('tcp.log');
  try {
    await withProxy([staticCluster('up', [up.port])], { cluster: 'up', access_log: [fileAccessLog(file, LOG_FORMAT)] }, async (env) => {
      const c = await Client.open(env.port);
      c.write('hello');
      await c.until('hello');
      c.write(' world');
      await c.until('hello world');
      assert.equal(env.counter('tcp.tp.downstream_cx_total'), 1);
      assert.equal(env.gauge('cluster.up.upstream_cx_active'), 1);
      c.socket.end();
      await c.waitClosed();
      await waitFor(() => env.gauge('cluster.up.upstream_cx_active') === 0);
      assert.equal(env.counter('tcp.tp.downstream_cx_rx_bytes_total'), 11);
      assert.equal(env.counter('tcp.tp.downstream_cx_tx_bytes_total'), 11);
      assert.equal(env.counter('cluster.up.upstream_cx_total'), 1);
      assert.equal(env.counter('cluster.up.upstream_cx_tx_bytes_total'), 11);
      assert.equal(env.counter('cluster.up.upstream_cx_rx_bytes_total'), 11);
      assert.equal(env.counter('cluster.up.upstream_cx_destroy'), 1);
      assert.equal(env.stats.histograms.get('cluster.up.upstream_cx_connect_ms')!.count, 1);
      assert.equal(env.stats.histograms.get('cluster.up.upstream_cx_length_ms')!.count, 1);
      const host = env.cm.get('up')!.hostsByPriority()[0][0];
      assert.equal(host.stats.cx_total.value, 1);
      assert.equal(host.stats.cx_active.value, 0);
      const lines = await readLog(file);
      assert.deepEqual(lines, [`- 11 11 127.0.0.1:${up.port} up`]);
    });
  } finally {
    await up.close();
    fs.rmSync(file, { force: true });
  }
});

test('large transfer both ways keeps order and counts every byte', async () => {
  const up = await echoUpstream();
  try {
    await withProxy([staticCluster('up', [up.port])], { cluster: 'up' }, async (env) => {
      const c = await Client.open(env.port);
      const payload = Buffer.alloc(3 * 1024 * 1024);
      for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
      const got: Buffer[] = [];
      let n = 0;
      c.socket.on('data', (d: Buffer) => { got.push(d); n += d.length; });
      c.socket.write(payload);
      await waitFor(() => n >= payload.length, 10_000, () => `echoed ${n}`);
      assert.ok(Buffer.concat(got).equals(payload));
      assert.equal(env.counter('tcp.tp.downstream_cx_rx_bytes_total'), payload.length);
      c.destroy();
    });
  } finally { await up.close(); }
});

test('downstream half-close: FIN goes upstream, the response still comes back', async () => {
  const up = await upstream((s) => {
    let n = 0;
    s.on('data', (d: Buffer) => { n += d.length; });
    s.on('end', () => { s.write(`got ${n}`); s.end(); });
  }, { allowHalfOpen: true });
  try {
    await withProxy([staticCluster('up', [up.port])], { cluster: 'up' }, async (env) => {
      const c = await Client.open(env.port);
      c.socket.end('12345');
      await c.until('got 5');
      await waitFor(() => c.ended);
      await c.waitClosed();
      await waitFor(() => env.gauge('cluster.up.upstream_cx_active') === 0);
    });
  } finally { await up.close(); }
});

test('upstream half-close: downstream gets FIN and can keep sending', async () => {
  const up = await upstream((s) => {
    s.end('bye');
    s.on('data', (d: Buffer) => { (s as net.Socket & { got?: string }).got = ((s as net.Socket & { got?: string }).got ?? '') + d.toString(); });
  }, { allowHalfOpen: true });
  try {
    await withProxy([staticCluster('up', [up.port])], { cluster: 'up' }, async (env) => {
      const c = new Client(net.connect({ port: env.port, host: '127.0.0.1', allowHalfOpen: true }));
      await c.until('bye');
      await waitFor(() => c.ended);
      assert.ok(!c.closed);
      c.socket.end('after-fin');
      await waitFor(() => up.sockets.length === 1 && (up.sockets[0] as net.Socket & { got?: string }).got === 'after-fin');
      await c.waitClosed();
    });
  } finally { await up.close(); }
});

test('upstream close: downstream is closed after the queued bytes are delivered', async () => {
  const up = await upstream((s) => { s.end(Buffer.alloc(256 * 1024, 0x61)); });
  try {
    await withProxy([staticCluster('up', [up.port])], { cluster: 'up' }, async (env) => {
      const c = await Client.open(env.port);
      await c.waitClosed(5000);
      assert.equal(c.bytes, 256 * 1024);
    });
  } finally { await up.close(); }
});

test('initialData read by listener filters is replayed upstream first', async () => {
  const up = await echoUpstream();
  try {
    await withProxy([staticCluster('up', [up.port])], { cluster: 'up' }, async (env) => {
      const c = await Client.open(env.port);
      c.write('abc|rest');
      await c.until('abc|rest');
      assert.equal(Buffer.concat(up.received).toString(), 'abc|rest');
      assert.equal(env.counter('tcp.tp.downstream_cx_rx_bytes_total'), 8);
      c.destroy();
    }, { listener: { listener_filters: [{ name: 'peek', typed_config: { '@type': PEEK, bytes: 4 } }] } });
  } finally { await up.close(); }
});

test('idle timeout closes both sides; activity resets it', async () => {
  const up = await echoUpstream();
  try {
    await withProxy([staticCluster('up', [up.port])], { cluster: 'up', idle_timeout: 150 }, async (env) => {
      const c = await Client.open(env.port);
      for (let i = 0; i < 5; i++) {
        c.write('x');
        await sleep(60);
      }
      assert.ok(!c.closed, 'activity kept the connection open');
      await c.waitClosed(3000);
      assert.equal(env.counter('tcp.tp.idle_timeout'), 1);
      await waitFor(() => up.sockets.every((s) => s.destroyed));
    });
  } finally { await up.close(); }
});

test('max_downstream_connection_duration closes the connection', async () => {
  const up = await echoUpstream();
  try {
    await withProxy([staticCluster('up', [up.port])], { cluster: 'up', max_downstream_connection_duration: 100 }, async (env) => {
      const c = await Client.open(env.port);
      c.write('x');
      await c.waitClosed(3000);
      assert.equal(env.counter('tcp.tp.max_downstream_connection_duration'), 1);
    });
  } finally { await up.close(); }
});

test('connect failure: UF,URX, connect_fail stats, downstream closed', async () => {
  const dead = await closedPort();
  const file = tmpFile('uf.log');
  try {
    await withProxy([staticCluster('up', [dead])], { cluster: 'up', access_log: [fileAccessLog(file, LOG_FORMAT)] }, async (env) => {
      const c = await Client.open(env.port);
      c.write('lost');
      await c.waitClosed();
      assert.equal(c.data, '');
      assert.equal(env.counter('cluster.up.upstream_cx_connect_fail'), 1);
      assert.equal(env.counter('cluster.up.upstream_cx_connect_attempts_exceeded'), 1);
      assert.equal(env.cm.get('up')!.hostsByPriority()[0][0].stats.cx_connect_fail.value, 1);
      let lines: string[] = [];
      for (let i = 0; i < 100 && !lines.length; i++) { lines = await readLog(file); if (!lines.length) await sleep(10); }
      assert.deepEqual(lines, [`UF,URX 0 0 127.0.0.1:${dead} up`]);
    });
  } finally { fs.rmSync(file, { force: true }); }
});

test('max_connect_attempts: a failed attempt is retried on the next host', async () => {
  const dead = await closedPort();
  const up = await echoUpstream();
  try {
    await withProxy([staticCluster('up', [dead, up.port])], { cluster: 'up', max_connect_attempts: 2 }, async (env) => {
      for (let i = 0; i < 2; i++) {
        const c = await Client.open(env.port);
        c.write('ok' + i);
        await c.until('ok' + i);
        c.destroy();
      }
      assert.ok(env.counter('cluster.up.upstream_cx_connect_fail') >= 1);
      assert.equal(env.counter('cluster.up.upstream_cx_connect_attempts_exceeded'), 0);
    });
  } finally { await up.close(); }
});

/** A listener in a child process whose event loop is blocked: its accept queue fills and further SYNs go unanswered. */
async function blackhole(): Promise<{ port: number; fillers: net.Socket[]; stop(): void }> {
  const code = "const s=require('net').createServer().listen({port:0,host:'127.0.0.1',backlog:1},()=>{process.send(s.address().port);" +
    'Atomics.wait(new Int32Array(new SharedArrayBuffer(4)),0,0,30000);process.exit(0);});';
  const cp: ChildProcess = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    cp.once('message', (m) => resolve(Number(m)));
    cp.once('error', reject);
  });
  const fillers: net.Socket[] = [];
  for (let i = 0; i < 8; i++) {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    fillers.push(s);
    const connected = await new Promise<boolean>((r) => { s.once('connect', () => r(true)); setTimeout(() => r(false), 300); });
    if (!connected) break;
  }
  return { port, fillers, stop: () => { for (const s of fillers) s.destroy(); cp.kill('SIGKILL'); } };
}

test('connect timeout: the cluster connect_timeout applies, UF + upstream_cx_connect_timeout', async () => {
  const bh = await blackhole();
  try {
    await withProxy([staticCluster('slow', [bh.port], { connect_timeout: 100 })], { cluster: 'slow' }, async (env) => {
      const t0 = Date.now();
      const c = await Client.open(env.port);
      await c.waitClosed(5000);
      assert.ok(Date.now() - t0 >= 90, 'closed only after the connect timeout');
      assert.equal(env.counter('cluster.slow.upstream_cx_connect_timeout'), 1);
      assert.equal(env.counter('cluster.slow.upstream_cx_connect_fail'), 1);
      assert.equal(env.counter('cluster.slow.upstream_cx_destroy_local'), 1);
    });
  } finally { bh.stop(); }
});

test('unknown cluster: NC flag and downstream_cx_no_route', async () => {
  const file = tmpFile('nc.log');
  try {
    await withProxy([], { cluster: 'missing', access_log: [fileAccessLog(file, '%RESPONSE_FLAGS%')] }, async (env) => {
      const c = await Client.open(env.port);
      await c.waitClosed();
      assert.equal(env.counter('tcp.tp.downstream_cx_no_route'), 1);
      let lines: string[] = [];
      for (let i = 0; i < 100 && !lines.length; i++) { lines = await readLog(file); if (!lines.length) await sleep(10); }
      assert.deepEqual(lines, ['NC']);
    });
  } finally { fs.rmSync(file, { force: true }); }
});

test('no hosts: UH and upstream_cx_none_healthy', async () => {
  await withProxy([staticCluster('empty', [])], { cluster: 'empty' }, async (env) => {
    const c = await Client.open(env.port);
    await c.waitClosed();
    assert.equal(env.counter('cluster.empty.upstream_cx_none_healthy'), 1);
  });
});

test('circuit breaker max_connections: overflow closes the connection with UO', async () => {
  const up = await echoUpstream();
  const file = tmpFile('uo.log');
  try {
    const cluster = staticCluster('up', [up.port], { circuit_breakers: { thresholds: [{ priority: 'DEFAULT', max_connections: 1 }] } });
    await withProxy([cluster], { cluster: 'up', access_log: [fileAccessLog(file, '%RESPONSE_FLAGS%')] }, async (env) => {
      const a = await Client.open(env.port);
      a.write('a');
      await a.until('a');
      const b = await Client.open(env.port);
      await b.waitClosed();
      assert.equal(env.counter('cluster.up.upstream_cx_overflow'), 1);
      a.destroy();
      await a.waitClosed();
      await waitFor(() => env.gauge('cluster.up.upstream_cx_active') === 0);
      const c = await Client.open(env.port);
      c.write('c');
      await c.until('c');
      c.destroy();
      let lines: string[] = [];
      for (let i = 0; i < 100 && lines.length < 3; i++) { lines = await readLog(file); if (lines.length < 3) await sleep(10); }
      assert.deepEqual(lines.sort(), ['-', '-', 'UO']);
    });
  } finally {
    await up.close();
    fs.rmSync(file, { force: true });
  }
});

test('weighted clusters: each connection picks a cluster by weight (random() % total)', async () => {
  const a = await upstream((s) => s.end('A'));
  const b = await upstream((s) => s.end('B'));
  try {
    // weights 1:3 -> r % 4 == 0 picks a, 1..3 pick b
    const seq = [8, 5, 3, 4, 7];
    let i = 0;
    const random = () => seq[i++ % seq.length];
    await withProxy([staticCluster('a', [a.port]), staticCluster('b', [b.port])],
      { weighted_clusters: { clusters: [{ name: 'a', weight: 1 }, { name: 'b', weight: 3 }] } }, async (env) => {
        const got: string[] = [];
        for (let k = 0; k < seq.length; k++) {
          const c = await Client.open(env.port);
          await c.waitClosed();
          got.push(c.data);
        }
        assert.deepEqual(got, ['A', 'B', 'B', 'A', 'B']);
        assert.equal(env.counter('cluster.a.upstream_cx_total'), 2);
        assert.equal(env.counter('cluster.b.upstream_cx_total'), 3);
      }, { random });
  } finally {
    await a.close(); await b.close();
  }
});

test('flow control: a slow upstream pauses downstream reads, nothing is lost', async () => {
  let upSock: net.Socket | undefined;
  let upBytes = 0;
  const up = await upstream((s) => { upSock = s; s.pause(); s.on('data', (d: Buffer) => { upBytes += d.length; }); });
  try {
    await withProxy([staticCluster('up', [up.port])], { cluster: 'up' }, async (env) => {
      const c = await Client.open(env.port);
      const chunk = Buffer.alloc(64 * 1024, 0x62);
      let sent = 0;
      for (let i = 0; i < 400 && env.counter('tcp.tp.downstream_flow_control_paused_reading_total') === 0; i++) {
        c.socket.write(chunk);
        sent += chunk.length;
        await sleep(2);
      }
      assert.ok(env.counter('tcp.tp.downstream_flow_control_paused_reading_total') >= 1, 'flow control engaged');
      upSock!.resume();
      await waitFor(() => upBytes === sent, 10_000, () => `upstream got ${upBytes} of ${sent}`);
      assert.ok(env.counter('tcp.tp.downstream_flow_control_resumed_reading_total') >= 1);
      assert.equal(env.counter('tcp.tp.downstream_cx_rx_bytes_total'), sent);
      c.destroy();
    });
  } finally { await up.close(); }
});

test('downstream resets while bytes are still queued upstream: they are flushed, upstream_flush stats', async () => {
  let upSock: net.Socket | undefined;
  let upBytes = 0;
  const up = await upstream((s) => { upSock = s; s.pause(); s.on('data', (d: Buffer) => { upBytes += d.length; }); });
  const total = 24 * 1024 * 1024;
  try {
    // A large upstream buffer limit: the proxy reads everything and queues what the kernel does not take.
    const cluster = staticCluster('up', [up.port], { per_connection_buffer_limit_bytes: 64 * 1024 * 1024 });
    await withProxy([cluster], { cluster: 'up' }, async (env) => {
      const c = await Client.open(env.port);
      c.socket.write(Buffer.alloc(total, 0x63));
      await waitFor(() => env.counter('tcp.tp.downstream_cx_rx_bytes_total') === total, 10_000);
      c.socket.resetAndDestroy();
      await waitFor(() => env.counter('tcp.tp.upstream_flush_total') === 1);
      assert.equal(env.gauge('tcp.tp.upstream_flush_active'), 1);
      upSock!.resume();
      await waitFor(() => env.gauge('tcp.tp.upstream_flush_active') === 0, 10_000);
      await waitFor(() => upBytes === total, 10_000, () => `upstream got ${upBytes}`);
    });
  } finally { await up.close(); }
});

test('flush_access_log_on_connected and access_log_flush_interval log extra lines', async () => {
  const up = await echoUpstream();
  const file = tmpFile('flush.log');
  try {
    await withProxy([staticCluster('up', [up.port])], {
      cluster: 'up', access_log: [fileAccessLog(file, 'line')],
      access_log_options: { flush_access_log_on_connected: true, access_log_flush_interval: 60 },
    }, async (env) => {
      const c = await Client.open(env.port);
      c.write('x');
      await c.until('x');
      await sleep(200);
      c.destroy();
      await c.waitClosed();
      let lines: string[] = [];
      for (let i = 0; i < 100 && lines.length < 4; i++) { lines = await readLog(file); if (lines.length < 4) await sleep(10); }
      // connected + >= 2 periodic + end
      assert.ok(lines.length >= 4, `got ${lines.length} lines`);
    });
  } finally {
    await up.close();
    fs.rmSync(file, { force: true });
  }
});

test('hash_policy source_ip hands a hash of the downstream address to the load balancer', async () => {
  const up = await echoUpstream();
  const seenCtx: Array<LoadBalancerContext | undefined> = [];
  const wrap = (cm: ClusterManager): ClusterManager => ({
    ...cm,
    get: (name: string): Cluster | undefined => {
      const c = cm.get(name);
      if (!c) return c;
      return new Proxy(c, {
        get(target, prop, recv) {
          if (prop === 'chooseHost') return (ctx: LoadBalancerContext | undefined) => { seenCtx.push(ctx); return target.chooseHost(ctx); };
          return Reflect.get(target, prop, recv);
        },
      });
    },
  });
  try {
    await withProxy([staticCluster('up', [up.port])], { cluster: 'up', hash_policy: [{ source_ip: {} }] }, async (env) => {
      const c = await Client.open(env.port, '127.0.0.7');
      c.write('h');
      await c.until('h');
      c.destroy();
      assert.equal(seenCtx.length, 1);
      assert.equal(seenCtx[0]!.hashKey, hashString('127.0.0.7'));
      assert.equal(seenCtx[0]!.downstreamRemoteAddress, '127.0.0.7');
      assert.equal(seenCtx[0]!.originalDst, `127.0.0.1:${env.port}`);
    }, { wrapCm: wrap });
  } finally { await up.close(); }
});

test('upstream_bind_config source_address is used for upstream connections', async () => {
  let peer = '';
  const up = await upstream((s) => { peer = s.remoteAddress ?? ''; s.end('x'); });
  try {
    const cluster = staticCluster('up', [up.port], { upstream_bind_config: { source_address: { address: '127.0.0.6', port_value: 0 } } });
    await withProxy([cluster], { cluster: 'up' }, async (env) => {
      const c = await Client.open(env.port);
      await c.waitClosed();
      assert.equal(peer, '127.0.0.6');
    });
  } finally { await up.close(); }
});

test('downstream_cx_total counts every connection', async () => {
  const up = await echoUpstream();
  try {
    await withProxy([staticCluster('up', [up.port])], { cluster: 'up' }, async (env) => {
      const cs = await Promise.all([0, 1, 2].map(() => Client.open(env.port)));
      for (const [i, c] of cs.entries()) { c.write('m' + i); await c.until('m' + i); }
      assert.equal(env.counter('tcp.tp.downstream_cx_total'), 3);
      assert.equal(env.gauge('cluster.up.upstream_cx_active'), 3);
      for (const c of cs) c.destroy();
      await waitFor(() => env.gauge('cluster.up.upstream_cx_active') === 0);
    });
  } finally { await up.close(); }
});

test('config validation', () => {
  const stats = new Store();
  const cm = new ClusterManagerImpl({ stats, log: silentLog });
  const mk = (cfg: object) => new TcpProxyConfig({ '@type': TCP_PROXY_TYPE, ...cfg }, { path: 'tp', clusterManager: cm, stats, log: silentLog });
  const bad: Array<[object, string, RegExp]> = [
    [{ cluster: 'c' }, 'tp.stat_prefix', /at least 1/],
    [{ stat_prefix: 's' }, 'tp', /one of cluster or weighted_clusters/],
    [{ stat_prefix: 's', weighted_clusters: { clusters: [] } }, 'tp.weighted_clusters.clusters', /at least 1/],
    [{ stat_prefix: 's', weighted_clusters: { clusters: [{ name: 'a', weight: 0 }] } }, 'tp.weighted_clusters.clusters[0].weight', />= 1|greater than or equal to 1/],
    [{ stat_prefix: 's', cluster: 'c', tunneling_config: { hostname: 'h' } }, 'tp.tunneling_config', /not supported/],
    [{ stat_prefix: 's', cluster: 'c', on_demand: {} }, 'tp.on_demand', /not supported/],
    [{ stat_prefix: 's', cluster: 'c', metadata_match: { filter_metadata: { 'envoy.lb': { v: 1 } } } }, 'tp.metadata_match.filter_metadata', /subset/],
    [{ stat_prefix: 's', cluster: 'c', max_connect_attempts: 0 }, 'tp.max_connect_attempts', /greater than or equal to 1/],
    [{ stat_prefix: 's', cluster: 'c', hash_policy: [{}] }, 'tp.hash_policy[0]', /source_ip or filter_state/],
    [{ stat_prefix: 's', cluster: 'c', flush_access_log_on_connected: true, access_log_options: {} }, 'tp.access_log_options', /Only one of/],
    [{ stat_prefix: 's', cluster: 'c', access_log: [{ typed_config: { '@type': 'type.googleapis.com/acme.Log' } }] }, 'tp.access_log[0].typed_config', /unknown type/],
  ];
  for (const [cfg, path, re] of bad) {
    assert.throws(() => mk(cfg), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.equal(e.path, path);
      assert.match(e.message, re);
      return true;
    });
  }
  const ok = mk({ stat_prefix: 's', cluster: 'c' });
  assert.equal(ok.idleTimeoutMs, 3600_000);
  assert.equal(ok.maxConnectAttempts, 1);
  assert.equal(mk({ stat_prefix: 's', cluster: 'c', idle_timeout: 0 }).idleTimeoutMs, 0);
  assert.deepEqual(mk({ stat_prefix: 's', cluster: 'c', hash_policy: [{ filter_state: { key: 'k' } }] }).hashPolicy, { kind: 'filter_state', key: 'k' });
  // metadata_match without envoy.lb criteria changes nothing: accepted.
  mk({ stat_prefix: 's', cluster: 'c', metadata_match: { filter_metadata: { other: { a: 1 } } } });
  cm.shutdown();
});

test('hashString is stable and spreads', () => {
  assert.equal(hashString('10.0.0.1'), hashString('10.0.0.1'));
  assert.notEqual(hashString('10.0.0.1'), hashString('10.0.0.2'));
  assert.equal(hashString(''), 0xcbf29ce484222325n);
});

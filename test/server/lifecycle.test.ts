// Server lifecycle through the real binary: SIGTERM/SIGINT drain, /quitquitquit,
// /ready, /healthcheck/fail|ok, /drain_listeners.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { basicBootstrap, startProc, tempDir, type Proc } from './proc';
import { request, startUpstream, until, type Reply, type Upstream } from '../integration/helpers';

const tmp = tempDir();
let up: Upstream;
let configFile: string;
const procs: Proc[] = [];

before(async () => {
  // /slow?ms=N answers after N ms; everything else at once.
  up = await startUpstream('backend', (req, res) => {
    const ms = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('ms') ?? 0);
    const t = setTimeout(() => res.end(`done ${req.url}`), ms);
    res.on('close', () => clearTimeout(t));
  });
  configFile = path.join(tmp.dir, 'remora.yaml');
  fs.writeFileSync(configFile, basicBootstrap(up.port));
});

after(async () => {
  for (const p of procs) await p.kill();
  await up.close();
  tmp.cleanup();
});

async function start(...flags: string[]): Promise<{ p: Proc; port: number }> {
  const p = await startProc(['-c', configFile, ...flags]);
  procs.push(p);
  return { p, port: await p.listenerPort('ingress') };
}

/** Resolve with how a new connection fares: 'refused', 'close' (served with connection: close) or 'open'. */
async function newConnection(port: number): Promise<'refused' | 'close' | 'open'> {
  try {
    const r = await request(port, '/', { headers: { connection: 'keep-alive' } });
    return r.headers.connection === 'close' ? 'close' : 'open';
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ECONNREFUSED') return 'refused';
    // A connection still in the kernel's accept queue when the listening socket closes is reset
    // during connect: it was never accepted, so it is refused too (not an accepted request dropped).
    if (err.code === 'ECONNRESET' && err.syscall === 'connect') return 'refused';
    throw e;
  }
}

async function statValue(p: Proc, name: string): Promise<number | undefined> {
  const r = await p.admin(`/stats?filter=${encodeURIComponent(`^${name.replace(/\./g, '\\.')}$`)}`);
  const m = new RegExp(`^${name.replace(/\./g, '\\.')}: (\\d+)$`, 'm').exec(r.body);
  return m ? Number(m[1]) : undefined;
}

test('SIGTERM: the in-flight request completes, new connections are refused, exit 0 before the drain time', async () => {
  const { p, port } = await start('--drain-time-s', '30', '-l', 'info');
  const seenBefore = up.seen.length;
  const inflight = request(port, '/slow?ms=1500', { timeoutMs: 20_000 });
  await until(() => up.seen.length > seenBefore, 5000, 'upstream got the slow request');
  p.child.kill('SIGTERM');
  // A new connection after SIGTERM is refused (or, while the signal is in flight, told to close).
  let fate: string = 'open';
  await until(async () => { fate = await newConnection(port); return fate !== 'open'; }, 5000, 'new connections refused');
  assert.ok(fate === 'refused' || fate === 'close', fate);
  const r: Reply = await inflight;
  assert.equal(r.status, 200);
  assert.equal(r.body, 'done /slow?ms=1500');
  assert.equal(r.headers.connection, 'close');
  // Far less than the 30 s drain time: remora exits as soon as its connections are gone.
  const exit = await p.waitExit(20_000);
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.match(p.stderr(), /\[info\]\[main\] caught SIGTERM/);
  assert.equal(await newConnection(port).catch(() => 'refused'), 'refused');
});

test('SIGTERM: the drain time caps a request that takes longer; exit 0', async () => {
  const { p, port } = await start('--drain-time-s', '1', '-l', 'error');
  const seenBefore = up.seen.length;
  const inflight = request(port, '/slow?ms=60000', { timeoutMs: 30_000 }).then((r) => r.status, (e: Error) => e.message);
  await until(() => up.seen.length > seenBefore, 5000, 'upstream got the slow request');
  p.child.kill('SIGTERM');
  assert.deepEqual(await p.waitExit(15_000), { code: 0, signal: null });
  // The client is not left hanging: its connection was closed at the end of the drain.
  const outcome = await inflight;
  assert.notEqual(outcome, 'request /slow?ms=60000 timed out');
});

test('SIGTERM: idle keep-alive connections are closed and do not hold the drain', async () => {
  const { p, port } = await start('--drain-time-s', '30', '-l', 'error');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const sock = await new Promise<import('node:net').Socket>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/ka', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(req.socket!));
      });
      req.setTimeout(5000, () => req.destroy(new Error('timeout')));
      req.on('error', reject);
    });
    const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
    assert.equal(sock.destroyed, false);
    p.child.kill('SIGTERM');
    assert.deepEqual(await p.waitExit(20_000), { code: 0, signal: null });
    await closed;
  } finally {
    agent.destroy();
  }
});

test('SIGINT drains and exits 0 too', async () => {
  const { p } = await start('-l', 'info');
  p.child.kill('SIGINT');
  assert.deepEqual(await p.waitExit(15_000), { code: 0, signal: null });
  assert.match(p.stderr(), /caught SIGINT/);
});

test('/quitquitquit: POST only; answers OK then exits 0', async () => {
  const { p, port } = await start('-l', 'error');
  const get = await p.admin('/quitquitquit');
  assert.equal(get.status, 405);
  assert.equal(get.body, 'Method GET not allowed, POST required.');
  assert.equal((await request(port, '/still-up')).status, 200);
  const r = await p.admin('/quitquitquit', 'POST');
  assert.equal(r.status, 200);
  assert.equal(r.body, 'OK\n');
  assert.deepEqual(await p.waitExit(15_000), { code: 0, signal: null });
});

test('/ready is LIVE; /healthcheck/fail makes it DRAINING (503) as in Envoy; /healthcheck/ok restores it', async () => {
  const { p, port } = await start('-l', 'error');
  const ready = await p.admin('/ready');
  assert.deepEqual([ready.status, ready.body], [200, 'LIVE\n']);
  assert.equal(await statValue(p, 'server.live'), 1);
  assert.equal(await statValue(p, 'server.state'), 0);

  assert.equal((await p.admin('/healthcheck/fail')).status, 405);
  const fail = await p.admin('/healthcheck/fail', 'POST');
  assert.deepEqual([fail.status, fail.body], [200, 'OK\n']);
  const r2 = await p.admin('/ready');
  assert.deepEqual([r2.status, r2.body], [503, 'DRAINING\n']);
  assert.equal(JSON.parse((await p.admin('/server_info')).body).state, 'DRAINING');
  assert.equal(await statValue(p, 'server.live'), 0);
  assert.equal(await statValue(p, 'server.state'), 1);
  // Failing health checks does not stop traffic.
  assert.equal((await request(port, '/during-fail')).status, 200);

  const ok = await p.admin('/healthcheck/ok', 'POST');
  assert.deepEqual([ok.status, ok.body], [200, 'OK\n']);
  const r3 = await p.admin('/ready');
  assert.deepEqual([r3.status, r3.body], [200, 'LIVE\n']);
  assert.equal(JSON.parse((await p.admin('/server_info')).body).state, 'LIVE');
  assert.equal(await statValue(p, 'server.live'), 1);
  p.child.kill('SIGTERM');
  assert.equal((await p.waitExit(15_000)).code, 0);
});

test('/drain_listeners: listeners stop accepting, the admin and the process stay up', async () => {
  const { p, port } = await start('-l', 'error');
  assert.equal((await p.admin('/drain_listeners')).status, 405);
  const bad = await p.admin('/drain_listeners?skip_exit', 'POST');
  assert.deepEqual([bad.status, bad.body], [400, 'skip_exit requires graceful\n']);
  assert.equal(await newConnection(port), 'open');
  const r = await p.admin('/drain_listeners', 'POST');
  assert.deepEqual([r.status, r.body], [200, 'OK\n']);
  await until(async () => (await newConnection(port)) === 'refused', 5000, 'listener stopped');
  assert.equal(await statValue(p, 'listener_manager.listener_stopped'), 1);
  assert.equal((await p.admin('/ready')).status, 200);
  assert.equal(p.running(), true);
  p.child.kill('SIGTERM');
  assert.deepEqual(await p.waitExit(15_000), { code: 0, signal: null });
});

test('/drain_listeners?graceful: in-flight requests finish with connection: close, the listener stops after the drain time', async () => {
  const { p, port } = await start('--drain-time-s', '1', '-l', 'error');
  const seenBefore = up.seen.length;
  const inflight = request(port, '/slow?ms=300', { timeoutMs: 10_000 });
  await until(() => up.seen.length > seenBefore, 5000, 'upstream got the slow request');
  const r = await p.admin('/drain_listeners?graceful', 'POST');
  assert.deepEqual([r.status, r.body], [200, 'OK\n']);
  const done = await inflight;
  assert.equal(done.status, 200);
  assert.equal(done.headers.connection, 'close');
  // A connection accepted during the graceful drain is served once, with connection: close (Envoy), not reset.
  const fresh = await request(port, '/after-drain', { timeoutMs: 5000 });
  assert.equal(fresh.status, 200);
  assert.equal(fresh.headers.connection, 'close');
  await until(async () => (await newConnection(port).catch(() => 'reset')) === 'refused', 10_000, 'listener stopped after the drain time');
  assert.equal(p.running(), true);
  assert.equal((await p.admin('/ready')).status, 200);
  p.child.kill('SIGTERM');
  assert.deepEqual(await p.waitExit(15_000), { code: 0, signal: null });
});

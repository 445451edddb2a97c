// `npm start`: the demo (dist/src/demo/main.js) as a child process on its fixed ports
// (listener 10000, admin 9901, reviews 9081-9083). The only test that uses those ports.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { REPO, get, until } from './helpers';
import { DEMO_PORTS } from '../../src/demo/main';

let child: ChildProcess | undefined;
let exited = false;
after(() => {
  if (child && !exited) child.kill('SIGKILL');
});

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(true));
  });
}

test('the demo: /reviews splits between v1 and v3 (never v2), /v2/ reaches v2, SIGTERM exits 0', async () => {
  const ports = [DEMO_PORTS.listener, DEMO_PORTS.admin, DEMO_PORTS.v1, DEMO_PORTS.v2, DEMO_PORTS.v3];
  for (const p of ports) assert.equal(await refused(p), true, `port ${p} is already in use: the demo test needs it`);

  let stdout = '';
  let stderr = '';
  child = spawn(process.execPath, [path.join(REPO, 'dist', 'src', 'demo', 'main.js')], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (c) => { stdout += c; });
  child.stderr!.on('data', (c) => { stderr += c; });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child!.on('exit', (code, signal) => { exited = true; resolve({ code, signal }); });
  });

  await until(async () => {
    if (exited) throw new Error(`demo exited: ${stderr}`);
    const r = await get(DEMO_PORTS.admin, '/ready').catch(() => undefined);
    return r?.status === 200;
  }, 20_000, 'demo admin /ready');
  assert.match(stdout, /remora demo is running: listener http:\/\/127\.0\.0\.1:10000, admin http:\/\/127\.0\.0\.1:9901/);

  const L = DEMO_PORTS.listener;
  const versions: Record<string, number> = {};
  for (let i = 0; i < 40; i++) {
    const r = await get(L, '/reviews');
    assert.equal(r.status, 200);
    const v = String(r.headers['x-reviews-version']);
    assert.equal(JSON.parse(r.body).version, v);
    versions[v] = (versions[v] ?? 0) + 1;
  }
  assert.deepEqual(Object.keys(versions).sort(), ['v1', 'v3'], JSON.stringify(versions));
  assert.equal(versions.v1 + versions.v3, 40);

  const v2 = await get(L, '/v2/');
  assert.equal(v2.status, 200);
  assert.equal(v2.headers['x-reviews-version'], 'v2');
  const body = JSON.parse(v2.body);
  assert.equal(body.path, '/reviews/'); // prefix_rewrite "/v2/" -> "/reviews/"
  assert.equal(body.reviews[0].rating.color, 'black');
  assert.equal((await get(L, '/')).body, 'remora demo: try /reviews\n');

  const clusters = (await get(DEMO_PORTS.admin, '/clusters')).body;
  assert.ok(clusters.includes(`reviews-v1::127.0.0.1:${DEMO_PORTS.v1}::rq_success::${versions.v1}\n`), clusters);
  assert.ok(clusters.includes(`reviews-v2::127.0.0.1:${DEMO_PORTS.v2}::rq_success::1\n`));
  assert.ok(clusters.includes(`reviews-v3::127.0.0.1:${DEMO_PORTS.v3}::rq_success::${versions.v3}\n`));

  // The stdout access log has a line per request (flushed at the latest on exit).
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([exit, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('demo did not exit')), 15_000); })]);
  clearTimeout(timer);
  assert.deepEqual(result, { code: 0, signal: null });
  assert.equal((stdout.match(/"GET \/reviews HTTP\/1\.1" 200 - /g) ?? []).length, 40);
  // Everything it started is gone, the upstreams child included.
  await until(async () => (await Promise.all(ports.map(refused))).every(Boolean), 5000, 'demo ports released');
});

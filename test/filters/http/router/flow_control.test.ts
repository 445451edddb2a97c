// Back-pressure: a slow downstream pauses the upstream response; a slow upstream
// pauses reading the downstream request body. Bounded in bytes and time.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { Store } from '../../../../src/stats/stats';
import { clusterManager, H2_OPTIONS, h1Upstream, routes, staticCluster, startProxy, teardownPools, until } from './harness';

after(() => teardownPools());

const TOTAL = 64 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 'z');

/** Writes up to TOTAL bytes honouring back-pressure; `sent` tells how far it got. */
function pump(write: (b: Buffer) => boolean, onDrain: (f: () => void) => void, end: () => void) {
  const state = { sent: 0 };
  const go = () => {
    while (state.sent < TOTAL) {
      state.sent += CHUNK.length;
      if (!write(CHUNK)) { onDrain(go); return; }
    }
    end();
  };
  go();
  return state;
}

async function slowReaderCase(h2: boolean): Promise<void> {
  let state: { sent: number } | undefined;
  let closeUp: () => Promise<void>;
  let port: number;
  if (h2) {
    const server = http2.createServer();
    server.on('stream', (stream) => {
      stream.on('error', () => {});
      stream.respond({ ':status': 200 });
      state = pump((b) => stream.write(b), (f) => stream.once('drain', f), () => stream.end());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as AddressInfo).port;
    closeUp = async () => { await new Promise<void>((r) => server.close(() => r())); };
  } else {
    const up = await h1Upstream((_q, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      state = pump((b) => res.write(b), (f) => res.once('drain', f), () => res.end());
    });
    port = up.port;
    closeUp = up.close;
  }
  const store = new Store();
  const cm = clusterManager(store);
  cm.addOrUpdate(staticCluster('big', [port], h2 ? H2_OPTIONS : {}));
  const proxy = await startProxy({ rc: routes([{ match: { prefix: '/' }, route: { cluster: 'big', timeout: '0s' } }]), cm, store });
  try {
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: proxy.port, path: '/', agent: false, headers: { host: 'x' } }, resolve);
      req.on('error', reject);
    });
    res.pause();
    await until(() => state !== undefined && state.sent > 0);
    // Give the pipeline time to fill every buffer; the upstream must then be stuck far below TOTAL.
    await new Promise((r) => setTimeout(r, 400));
    const stalled = state!.sent;
    assert.ok(stalled < TOTAL / 2, `upstream wrote ${stalled} bytes while the client was paused`);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(state!.sent - stalled <= 4 * CHUNK.length, 'upstream kept writing while paused');
    // Resume: everything arrives.
    let got = 0;
    res.on('data', (d: Buffer) => { got += d.length; });
    res.resume();
    await new Promise<void>((r) => res.on('end', () => r()));
    assert.equal(got, TOTAL);
  } finally {
    await proxy.close();
    teardownPools();
    await closeUp();
  }
}

test('a paused downstream pauses an HTTP/1.1 upstream response', async () => { await slowReaderCase(false); });
test('a paused downstream pauses an HTTP/2 upstream response', async () => { await slowReaderCase(true); });

test('an upstream that does not read pauses reading the downstream request body', async () => {
  let upReq: http.IncomingMessage | undefined;
  const server = http.createServer((req, res) => {
    upReq = req;
    req.pause();
    let n = 0;
    req.on('data', (d: Buffer) => { n += d.length; });
    req.on('end', () => res.end(String(n)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const store = new Store();
  const cm = clusterManager(store);
  cm.addOrUpdate(staticCluster('sink', [port]));
  const proxy = await startProxy({ rc: routes([{ match: { prefix: '/' }, route: { cluster: 'sink', timeout: '0s' } }]), cm, store });
  try {
    let state: { sent: number } = { sent: 0 };
    const done = new Promise<string>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: proxy.port, method: 'POST', path: '/', agent: false, headers: { host: 'x', 'content-length': String(TOTAL) } }, (res) => {
        let b = '';
        res.on('data', (d) => { b += d; });
        res.on('end', () => resolve(b));
      });
      req.on('error', reject);
      state = pump((b) => req.write(b), (f) => req.once('drain', f), () => req.end());
    });
    await until(() => upReq !== undefined);
    await new Promise((r) => setTimeout(r, 400));
    const stalled = state.sent;
    assert.ok(stalled < TOTAL / 2, `client wrote ${stalled} bytes while the upstream did not read`);
    upReq!.resume();
    assert.equal(await done, String(TOTAL));
  } finally {
    await proxy.close();
    teardownPools();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

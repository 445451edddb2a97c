import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { Store } from '../../../../src/stats/stats';
import { responseFlagsToString } from '../../../../src/common/response_flags';
import { clusterManager, counter, deadPort, routes, staticCluster, startProxy, teardownPools } from './harness';

after(() => teardownPools());

async function wsUpstream() {
  const server = http.createServer((_q, res) => { res.statusCode = 426; res.end('upgrade required'); });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    if (req.url === '/forbidden') {
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 4\r\nconnection: close\r\n\r\nnope');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.send(`hello ${req.headers['x-from-route'] ?? ''}`);
      ws.on('message', (m, isBinary) => ws.send(isBinary ? m : `echo:${m.toString()}`, { binary: isBinary }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

test('WebSocket upgrade is tunnelled after the upstream 101', async () => {
  const up = await wsUpstream();
  const store = new Store();
  const cm = clusterManager(store);
  cm.addOrUpdate(staticCluster('ws', [up.port]));
  const proxy = await startProxy({
    rc: routes([{ match: { prefix: '/' }, route: { cluster: 'ws' }, request_headers_to_add: [{ header: { key: 'x-from-route', value: 'r' } }] }]),
    cm, store,
  });
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${proxy.port}/chat`);
    const msgs: string[] = [];
    await new Promise<void>((resolve, reject) => {
      ws.on('error', reject);
      ws.on('message', (m) => {
        msgs.push(m.toString());
        if (msgs.length === 1) ws.send('ping');
        else if (msgs.length === 2) ws.send(Buffer.alloc(70_000, 7), { binary: true });
        else { ws.close(); resolve(); }
      });
    });
    assert.equal(msgs[0], 'hello r');
    assert.equal(msgs[1], 'echo:ping');
    assert.equal(msgs[2].length, 70_000);
    assert.equal(counter(store, 'cluster.ws.upstream_rq_101'), 1);
    assert.equal(proxy.streams[0].streamInfo.responseCode, 101);
  } finally {
    await proxy.close();
    await up.close();
  }
});

test('a non-101 answer to an upgrade is a normal response (no tunnel)', async () => {
  const up = await wsUpstream();
  const store = new Store();
  const cm = clusterManager(store);
  cm.addOrUpdate(staticCluster('ws', [up.port]));
  const proxy = await startProxy({ rc: routes([{ match: { prefix: '/' }, route: { cluster: 'ws' } }]), cm, store });
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${proxy.port}/forbidden`);
    const status = await new Promise<number>((resolve, reject) => {
      ws.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); res.resume(); });
      ws.on('open', () => reject(new Error('must not open')));
      ws.on('error', () => { /* follows unexpected-response */ });
    });
    assert.equal(status, 403);
    assert.equal(counter(store, 'cluster.ws.upstream_rq_403'), 1);
  } finally {
    await proxy.close();
    await up.close();
  }
});

test('upgrade to a dead upstream: 503 UF', async () => {
  const store = new Store();
  const cm = clusterManager(store);
  cm.addOrUpdate(staticCluster('dead', [await deadPort()]));
  const proxy = await startProxy({ rc: routes([{ match: { prefix: '/' }, route: { cluster: 'dead' } }]), cm, store });
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${proxy.port}/`);
    const status = await new Promise<number>((resolve) => {
      ws.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); res.resume(); });
      ws.on('error', () => { /* follows unexpected-response */ });
    });
    assert.equal(status, 503);
    assert.equal(responseFlagsToString(proxy.streams[0].streamInfo.responseFlags), 'UF');
  } finally {
    await proxy.close();
  }
});

// WebSocket / Upgrade tunnels and request/response flow control through the test proxy filter.
import { test, beforeEach } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { Harness, hcmConfig, filter, rawExchange, parseRaw, until, request } from './harness';
import { seen, logged, startUpgradeUpstream } from './test_filters';

beforeEach(() => { seen.reset(); logged.length = 0; });

const WS = { upgrade_configs: [{ upgrade_type: 'websocket' }] };

test('WebSocket through the HCM (ws client <-> ws server), tunnel only after 101', async () => {
  const upstream = http.createServer();
  const wss = new WebSocketServer({ server: upstream });
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`echo:${m}`)));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const port = (upstream.address() as net.AddressInfo).port;
  const h = await Harness.start(hcmConfig([filter('test.remora.Proxy', { port })], {
    ...WS, access_log: [{ name: 'cap', typed_config: { '@type': 'type.googleapis.com/test.remora.CaptureLog' } }],
  }));
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${h.port}/chat`);
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
    const replies: string[] = [];
    ws.on('message', (m) => replies.push(String(m)));
    ws.send('one');
    ws.send('two');
    await until(() => replies.length === 2);
    assert.deepEqual(replies, ['echo:one', 'echo:two']);
    assert.equal(h.counter('downstream_cx_upgrades_total'), 1);
    assert.equal(h.gauge('downstream_cx_upgrades_active'), 1);
    ws.close();
    await until(() => logged.length === 1);
    assert.equal(logged[0].info.responseCode, 101);
    assert.ok(logged[0].info.bytesReceived > 0 && logged[0].info.bytesSent > 0);
    assert.equal(h.gauge('downstream_cx_upgrades_active'), 0);
  } finally { await h.close(); wss.close(); upstream.close(); }
});

test('Upgrade tunnel: bytes after the request head, upstream head bytes, half-close both ways', async () => {
  const up = await startUpgradeUpstream();
  const h = await Harness.start(hcmConfig([filter('test.remora.Proxy', { port: up.port })], { upgrade_configs: [{ upgrade_type: 'custom-proto' }] }));
  try {
    const sock = net.connect(h.port, '127.0.0.1');
    let text = '';
    let ended = false;
    sock.on('data', (d) => { text += d.toString('latin1'); });
    sock.on('end', () => { ended = true; });
    sock.write('GET /t HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: custom-proto\r\n\r\nEARLY;');
    await until(() => text.includes('EARLY;'));
    const p = parseRaw(text);
    assert.equal(p.status, 101);
    assert.equal(p.headers['x-up'], 'yes');
    assert.equal(p.headers['upgrade'], 'custom-proto');
    assert.ok(p.body.startsWith('hello-from-upstream;EARLY;'));
    sock.write('ping;');
    await until(() => text.includes('ping;'));
    sock.end(); // half-close: the upstream still answers
    await until(() => ended);
    assert.ok(text.endsWith('bye'), text);
    sock.destroy();
  } finally { await h.close(); up.server.close(); }
});

test('Upgrade not enabled: 403, connection closed, never forwarded (downstream_rq_ws_on_non_ws_route)', async () => {
  const up = await startUpgradeUpstream();
  const h = await Harness.start(hcmConfig([filter('test.remora.Proxy', { port: up.port })]));
  try {
    const r = await rawExchange(h.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    const p = parseRaw(r.text);
    assert.equal(p.status, 403);
    assert.ok(r.closed);
    assert.equal(seen.upstreamCalls, 0);
    assert.equal(h.counter('downstream_rq_ws_on_non_ws_route'), 1);
  } finally { await h.close(); up.server.close(); }
});

test('route-level upgrade_configs enable / disable upgrades over the HCM setting', async () => {
  const up = await startUpgradeUpstream();
  const h = await Harness.start(hcmConfig([filter('test.remora.Proxy', { port: up.port })], {}, { upgrade_configs: [{ upgrade_type: 'websocket' }] }));
  try {
    const r = await rawExchange(h.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n', 300);
    assert.equal(parseRaw(r.text).status, 101);
  } finally { await h.close(); }
  const h2 = await Harness.start(hcmConfig([filter('test.remora.Proxy', { port: up.port })], WS, { upgrade_configs: [{ upgrade_type: 'websocket', enabled: false }] }));
  try {
    const r = await rawExchange(h2.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    assert.equal(parseRaw(r.text).status, 403);
  } finally { await h2.close(); up.server.close(); }
});

test('upstream refuses the upgrade (non-101): the answer is relayed, no tunnel', async () => {
  const up = await startUpgradeUpstream();
  const h = await Harness.start(hcmConfig([filter('test.remora.Proxy', { port: up.port })], WS));
  try {
    const r = await rawExchange(h.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nX-Reject: 1\r\n\r\nsmuggled?');
    const p = parseRaw(r.text);
    assert.equal(p.status, 403);
    assert.equal(p.body, 'no way');
    assert.ok(r.closed);
  } finally { await h.close(); up.server.close(); }
});

test('Upgrade: h2c is stripped and the request served normally', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Echo')], WS));
  try {
    const r = await rawExchange(h.port, 'GET /h2c HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n');
    const p = parseRaw(r.text);
    assert.equal(p.status, 200);
    const j = JSON.parse(p.body).headers;
    assert.equal(j['upgrade'], undefined);
    assert.equal(j['http2-settings'], undefined);
    assert.equal(j[':path'], '/h2c');
  } finally { await h.close(); }
});

test('tunnel idle timeout closes a silent tunnel', async () => {
  const up = await startUpgradeUpstream();
  const h = await Harness.start(hcmConfig([filter('test.remora.Proxy', { port: up.port })], { ...WS, stream_idle_timeout: 150 }));
  try {
    const r = await rawExchange(h.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n', 3000);
    assert.equal(parseRaw(r.text).status, 101);
    assert.ok(r.closed || true);
    await until(() => h.counter('downstream_rq_idle_timeout') === 1);
  } finally { await h.close(); up.server.close(); }
});

test('CONNECT over HTTP/1.1 is never tunneled', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.LocalReply', { status: 404, body: '' })], WS));
  try {
    const r = await rawExchange(h.port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    const p = parseRaw(r.text);
    assert.ok(p.status === 404 || p.status === 403, String(p.status));
    assert.ok(r.closed);
  } finally { await h.close(); }
});

// ---- flow control

function slowUpstream(): Promise<{ server: http.Server; port: number; received: () => number }> {
  return new Promise((resolve) => {
    let total = 0;
    const server = http.createServer((req, res) => {
      req.pause();
      setTimeout(() => {
        req.on('data', (d) => { total += d.length; });
        req.on('end', () => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end(String(total)); });
        req.resume();
      }, 300);
    });
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as net.AddressInfo).port, received: () => total }));
  });
}

test('HTTP/1.1 upload: the downstream is paused while the upstream is full, the whole body arrives', async () => {
  const up = await slowUpstream();
  const h = await Harness.start(hcmConfig([filter('test.remora.Proxy', { port: up.port })]));
  try {
    const size = 8 * 1024 * 1024;
    const r = await request(h.port, { method: 'POST', body: Buffer.alloc(size, 7) });
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), String(size));
    assert.ok(h.counter('downstream_flow_control_paused_reading_total') > 0);
    assert.equal(h.counter('downstream_flow_control_paused_reading_total'), h.counter('downstream_flow_control_resumed_reading_total'));
  } finally { await h.close(); up.server.close(); }
});

test('HTTP/2 upload: flow control through the HCM, the whole body arrives', async () => {
  const up = await slowUpstream();
  const h = await Harness.start(hcmConfig([filter('test.remora.Proxy', { port: up.port })]));
  const c = http2.connect(`http://127.0.0.1:${h.port}`);
  try {
    const size = 8 * 1024 * 1024;
    const body = await new Promise<string>((resolve, reject) => {
      const req = c.request({ ':path': '/up', ':method': 'POST' });
      let s = '';
      req.on('data', (d) => { s += d; });
      req.on('end', () => resolve(s));
      req.on('error', reject);
      req.end(Buffer.alloc(size, 9));
    });
    assert.equal(body, String(size));
    assert.ok(h.counter('downstream_flow_control_paused_reading_total') > 0);
  } finally { c.close(); await h.close(); up.server.close(); }
});

test('HTTP/1.1 download: a slow client pauses the upstream response (watermarks)', async () => {
  const size = 16 * 1024 * 1024;
  const upstream = http.createServer((req, res) => {
    res.writeHead(200, { 'content-length': String(size) });
    const chunk = Buffer.alloc(65536, 1);
    let sent = 0;
    const pump = () => { while (sent < size) { sent += chunk.length; if (!res.write(chunk)) { res.once('drain', pump); return; } } res.end(); };
    pump();
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const port = (upstream.address() as net.AddressInfo).port;
  const h = await Harness.start(hcmConfig([filter('test.remora.Proxy', { port })]));
  try {
    const n = await new Promise<number>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: h.port, agent: false }, (res) => {
        let got = 0;
        res.pause();
        setTimeout(() => { res.on('data', (d) => { got += d.length; }); res.on('end', () => resolve(got)); res.resume(); }, 300);
      });
      req.on('error', reject);
    });
    assert.equal(n, size);
    assert.ok(seen.watermarkAbove > 0);
  } finally { await h.close(); upstream.close(); }
});

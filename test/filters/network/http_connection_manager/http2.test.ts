import { test, beforeEach } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { Harness, hcmConfig, filter, h2request, until, request } from './harness';
import { seen, logged } from './test_filters';

beforeEach(() => { seen.reset(); logged.length = 0; });

function connect(port: number): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const c = http2.connect(`http://127.0.0.1:${port}`);
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

test('HTTP/2 prior knowledge on an AUTO listener: echo GET/POST, pseudo headers, stats', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Echo')]));
  const c = await connect(h.port);
  try {
    const r = await h2request(c, { ':path': '/h2?x=1', 'x-custom': 'v' });
    assert.equal(r.headers[':status'], 200);
    assert.equal(r.headers['server'], 'envoy');
    const j = JSON.parse(r.body.toString());
    assert.equal(j.headers[':path'], '/h2?x=1');
    assert.equal(j.headers[':method'], 'GET');
    assert.equal(j.headers[':scheme'], 'http');
    assert.equal(j.headers[':authority'], `127.0.0.1:${h.port}`);
    assert.equal(j.headers['x-custom'], 'v');
    const p = await h2request(c, { ':path': '/p', ':method': 'POST' }, 'payload-123');
    assert.equal(JSON.parse(p.body.toString()).body, 'payload-123');
    // same request over HTTP/1.1 on the same (AUTO) listener
    const h1 = await request(h.port, { path: '/h1' });
    assert.equal(h1.status, 200);
    assert.equal(h.counter('downstream_cx_http2_total'), 1);
    assert.equal(h.counter('downstream_cx_http1_total'), 1);
    assert.equal(h.counter('downstream_rq_http2_total'), 2);
  } finally { c.close(); await h.close(); }
});

test('HTTP/2 SETTINGS: max_concurrent_streams defaults to 100 (configurable)', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Echo')]));
  const c = http2.connect(`http://127.0.0.1:${h.port}`);
  try {
    const s = await new Promise<http2.Settings>((resolve) => c.once('remoteSettings', resolve));
    assert.equal(s.maxConcurrentStreams, 100);
  } finally { c.close(); await h.close(); }
  const h2 = await Harness.start(hcmConfig([filter('test.remora.Echo')], { http2_protocol_options: { max_concurrent_streams: 7 } }));
  const c2 = http2.connect(`http://127.0.0.1:${h2.port}`);
  try {
    const s = await new Promise<http2.Settings>((resolve) => c2.once('remoteSettings', resolve));
    assert.equal(s.maxConcurrentStreams, 7);
  } finally { c2.close(); await h2.close(); }
});

test('HTTP/2 response trailers (te: trailers / gRPC) and request trailers', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Echo', { trailers: true })]));
  const c = await connect(h.port);
  try {
    const r = await new Promise<{ trailers: http2.IncomingHttpHeaders | undefined; body: string }>((resolve, reject) => {
      const req = c.request({ ':path': '/svc/Method', ':method': 'POST', 'content-type': 'application/grpc', te: 'trailers' }, { waitForTrailers: true });
      let trailers: http2.IncomingHttpHeaders | undefined;
      let body = '';
      req.on('wantTrailers', () => req.sendTrailers({ 'x-req-trailer': 'rt' }));
      req.on('trailers', (t) => { trailers = t; });
      req.on('data', (d) => { body += d; });
      req.on('end', () => resolve({ trailers, body }));
      req.on('error', reject);
      req.end('msg');
    });
    assert.equal(r.trailers?.['x-trailer'], 'done');
    assert.equal(r.trailers?.['grpc-status'], '0');
    const j = JSON.parse(r.body);
    assert.equal(j.body, 'msg');
    assert.equal(j.trailers['x-req-trailer'], 'rt');
  } finally { c.close(); await h.close(); }
});

test('HTTP/2 gRPC local reply: trailers-only (HEADERS with END_STREAM), grpc-status 14', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.LocalReply', { status: 503, body: 'no healthy upstream' })]));
  const c = await connect(h.port);
  try {
    const r = await new Promise<{ headers: http2.IncomingHttpHeaders; flags: number; body: number }>((resolve, reject) => {
      const req = c.request({ ':path': '/svc/M', ':method': 'POST', 'content-type': 'application/grpc', te: 'trailers' });
      let headers: http2.IncomingHttpHeaders = {};
      let flags = 0;
      let body = 0;
      req.on('response', (hh, f) => { headers = hh; flags = f; });
      req.on('data', (d) => { body += d.length; });
      req.on('end', () => resolve({ headers, flags, body }));
      req.on('error', reject);
      req.end();
    });
    assert.equal(r.headers[':status'], 200);
    assert.equal(r.headers['content-type'], 'application/grpc');
    assert.equal(r.headers['grpc-status'], '14');
    assert.equal(r.headers['grpc-message'], 'no healthy upstream');
    assert.ok((r.flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0, 'trailers-only response');
    assert.equal(r.body, 0);
  } finally { c.close(); await h.close(); }
});

test('HTTP/2 header count over max_headers_count -> 431', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Count')], { common_http_protocol_options: { max_headers_count: 5 } }));
  const c = await connect(h.port);
  try {
    const hdrs: http2.OutgoingHttpHeaders = { ':path': '/' };
    for (let i = 0; i < 8; i++) hdrs[`x-h${i}`] = 'v';
    const r = await h2request(c, hdrs).catch((e) => e);
    if (!(r instanceof Error)) assert.equal(r.headers[':status'], 431);
    assert.equal(seen.upstreamCalls, 0);
  } finally { c.close(); await h.close(); }
});

test('HTTP/2 client reset after start: stream reset with DR, filters destroyed', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Hang')], {
    access_log: [{ name: 'cap', typed_config: { '@type': 'type.googleapis.com/test.remora.CaptureLog' } }],
  }));
  const c = await connect(h.port);
  try {
    const req = c.request({ ':path': '/', ':method': 'POST' });
    req.on('error', () => { /* cancelled */ });
    req.write('x');
    await until(() => seen.decodeHeaders === 1);
    req.close(http2.constants.NGHTTP2_CANCEL);
    await until(() => logged.length === 1);
    assert.equal(seen.destroyed, 1);
    assert.ok((logged[0].info.responseFlags & (1 << 28)) !== 0, 'DR flag');
    assert.equal(h.counter('downstream_rq_rx_reset'), 1);
  } finally { c.close(); await h.close(); }
});

test('HTTP/2 drain: GOAWAY, the in-flight stream completes', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Pause', { delay_ms: 80 }), filter('test.remora.Echo')]));
  const c = await connect(h.port);
  try {
    const goaway = new Promise<void>((resolve) => c.once('goaway', () => resolve()));
    const p = h2request(c, { ':path': '/inflight' });
    await until(() => h.gauge('downstream_rq_active') === 1);
    h.drain();
    await goaway;
    const r = await p;
    assert.equal(r.headers[':status'], 200);
  } finally { c.close(); await h.close(); }
});

test('HTTP/2 codec_type HTTP2 with initialData replay (listener filters read the preface)', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Echo')], { codec_type: 'HTTP2' }), { peekBytes: 30 });
  const c = await connect(h.port);
  try {
    const r = await h2request(c, { ':path': '/peeked' });
    assert.equal(JSON.parse(r.body.toString()).headers[':path'], '/peeked');
  } finally { c.close(); await h.close(); }
});

// ---- raw frames for malformed requests

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const b = Buffer.alloc(9 + payload.length);
  b.writeUIntBE(payload.length, 0, 3);
  b[3] = type; b[4] = flags; b.writeUInt32BE(stream, 5);
  payload.copy(b, 9);
  return b;
}

function literal(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.from([0x00, name.length]), Buffer.from(name), Buffer.from([value.length]), Buffer.from(value)]);
}

/** Send preface + SETTINGS + one HEADERS frame; collect frames the server sends back. */
function rawH2(port: number, headerBlock: Buffer, endStream = true, extra: Buffer[] = []): Promise<Array<{ type: number; stream: number; code?: number }>> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const out: Array<{ type: number; stream: number; code?: number }> = [];
    const timer = setTimeout(() => s.destroy(), 800);
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3);
        if (buf.length < 9 + len) break;
        const type = buf[3];
        const stream = buf.readUInt32BE(5) & 0x7fffffff;
        const payload = buf.subarray(9, 9 + len);
        const f: { type: number; stream: number; code?: number } = { type, stream };
        if (type === 3) f.code = payload.readUInt32BE(0);
        if (type === 7) f.code = payload.readUInt32BE(4);
        out.push(f);
        buf = buf.subarray(9 + len);
        if (type === 4 && (buf.length === 0)) { /* settings */ }
      }
    });
    s.on('error', () => { /* reset */ });
    s.on('close', () => { clearTimeout(timer); resolve(out); });
    s.write(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'));
    s.write(frame(4, 0, 0, Buffer.alloc(0)));
    s.write(frame(1, 0x4 | (endStream ? 0x1 : 0), 1, headerBlock));
    for (const e of extra) s.write(e);
  });
}

const BASE = Buffer.from([0x82, 0x84, 0x86]); // :method GET, :path /, :scheme http
const AUTH = Buffer.concat([Buffer.from([0x01, 0x01]), Buffer.from('x')]); // :authority x (indexed name)

for (const [name, extraHeader] of [
  ['uppercase header name', literal('X-Upper', 'v')],
  ['connection-specific header', literal('connection', 'keep-alive')],
  ['te other than trailers', literal('te', 'gzip')],
  ['transfer-encoding', literal('transfer-encoding', 'chunked')],
] as const) {
  test(`HTTP/2 malformed request (${name}) -> RST_STREAM PROTOCOL_ERROR, never reaches the upstream`, async () => {
    const h = await Harness.start(hcmConfig([filter('test.remora.Count')]));
    try {
      const frames = await rawH2(h.port, Buffer.concat([BASE, AUTH, extraHeader]));
      const rst = frames.find((f) => f.type === 3 && f.stream === 1);
      assert.ok(rst, `RST_STREAM expected, got ${JSON.stringify(frames)}`);
      assert.equal(rst.code, 1);
      assert.equal(seen.upstreamCalls, 0);
    } finally { await h.close(); }
  });
}

test('HTTP/2 valid raw request is served (control for the raw-frame cases)', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Count')]));
  try {
    const frames = await rawH2(h.port, Buffer.concat([BASE, AUTH]));
    assert.ok(frames.some((f) => f.type === 1 && f.stream === 1), JSON.stringify(frames));
    assert.equal(seen.upstreamCalls, 1);
  } finally { await h.close(); }
});

test('HTTP/2 content-length mismatch -> stream reset; the upstream never sees a complete request', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Count')]));
  try {
    const frames = await rawH2(h.port, Buffer.concat([Buffer.from([0x83]), Buffer.from([0x84, 0x86]), AUTH, literal('content-length', '10')]), false,
      [frame(0, 0x1, 1, Buffer.from('abc'))]);
    assert.ok(frames.some((f) => f.type === 3 && f.stream === 1 && f.code === 1), JSON.stringify(frames));
  } finally { await h.close(); }
});

test('HTTP/2 DATA on stream 0 -> GOAWAY PROTOCOL_ERROR, server survives', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Count')]));
  try {
    const frames = await rawH2(h.port, Buffer.concat([BASE, AUTH]), true, [frame(0, 0, 0, Buffer.from('x'))]);
    assert.ok(frames.some((f) => f.type === 7 && f.code === 1), JSON.stringify(frames));
    const c = await connect(h.port);
    const r = await h2request(c, { ':path': '/' });
    assert.equal(r.headers[':status'], 200);
    c.close();
  } finally { await h.close(); }
});

test('HTTP/2 rapid reset (HEADERS + RST_STREAM floods): reset streams never reach the filter chain; GOAWAY ENHANCE_YOUR_CALM', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Count')]), { runtime: { 'overload.premature_reset_total_stream_count': 100 } });
  try {
    const parts: Buffer[] = [];
    for (let i = 0; i < 200; i++) {
      const id = 3 + i * 2;
      parts.push(frame(1, 0x4 | 0x1, id, Buffer.concat([BASE, AUTH])));
      const rst = Buffer.alloc(4); rst.writeUInt32BE(8 /* CANCEL */, 0);
      parts.push(frame(3, 0, id, rst));
    }
    const frames = await rawH2(h.port, Buffer.concat([BASE, AUTH]), true, [Buffer.concat(parts)]);
    const goaway = frames.find((f) => f.type === 7);
    assert.ok(goaway, JSON.stringify(frames.slice(-5)));
    assert.equal(goaway.code, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
    // Only stream 1 (not reset) may have reached the upstream.
    assert.ok(seen.upstreamCalls <= 1, `upstream calls ${seen.upstreamCalls}`);
    assert.equal(h.counter('downstream_rq_too_many_premature_resets'), 1);
  } finally { await h.close(); }
});

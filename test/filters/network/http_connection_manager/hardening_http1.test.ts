// Malformed / adversarial HTTP/1.1 input: every case is answered 400/431 and the connection
// closed, and no request reaches the terminal filter (the "upstream").
import { test, beforeEach } from 'node:test';
import * as assert from 'node:assert/strict';
import { Harness, hcmConfig, filter, rawExchange, parseRaw } from './harness';
import { seen, logged } from './test_filters';

beforeEach(() => { seen.reset(); logged.length = 0; });

const CASES: Array<[string, string, number]> = [
  ['CL + TE', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
  ['duplicate Content-Length', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc', 400],
  ['list Content-Length', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc', 400],
  ['non-digit Content-Length', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3x\r\n\r\nabc', 400],
  ['TE not ending in chunked', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n', 400],
  ['obs-fold', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n', 400],
  ['space before colon', 'GET / HTTP/1.1\r\nHost: x\r\nX-A : a\r\n\r\n', 400],
  ['leading space before a name', 'GET / HTTP/1.1\r\n Host: x\r\n\r\n', 400],
  ['NUL in a value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n', 400],
  ['bare CR in a value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n', 400],
  ['invalid name char', 'GET / HTTP/1.1\r\nHost: x\r\nX(A): a\r\n\r\n', 400],
  ['multiple Host', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400],
  ['missing Host on HTTP/1.1', 'GET / HTTP/1.1\r\nX-A: a\r\n\r\n', 400],
  ['garbage request line', 'HELLO\r\n\r\n', 400],
  ['unknown method', 'FOO / HTTP/1.1\r\nHost: x\r\n\r\n', 400],
];

for (const [name, req, status] of CASES) {
  test(`HTTP/1.1 ${name} -> ${status} and close, never reaches the upstream`, async () => {
    const h = await Harness.start(hcmConfig([filter('test.remora.Count')], {
      access_log: [{ name: 'cap', typed_config: { '@type': 'type.googleapis.com/test.remora.CaptureLog' } }],
    }));
    try {
      const r = await rawExchange(h.port, req);
      const p = parseRaw(r.text);
      assert.equal(p.status, status, r.text);
      assert.ok(r.closed, 'connection closed');
      assert.equal((r.text.match(/HTTP\/1\.1/g) ?? []).length, 1, 'one response only');
      assert.equal(seen.upstreamCalls, 0);
      assert.equal(h.counter('downstream_rq_4xx'), 1);
      if (name !== 'missing Host on HTTP/1.1') assert.equal(h.counter('downstream_cx_protocol_error'), 1);
    } finally { await h.close(); }
  });
}

test('Transfer-Encoding on HTTP/1.0 (node accepts it) -> 400 and close', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Count')], { http_protocol_options: { accept_http_10: true } }));
  try {
    const r = await rawExchange(h.port, 'POST / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
    const p = parseRaw(r.text);
    assert.equal(p.status, 400);
    assert.equal(p.body, 'Bad Request');
    assert.ok(r.closed);
    assert.equal(seen.upstreamCalls, 0);
  } finally { await h.close(); }
});

test('Envoy protocol error body: text/plain "Bad Request" with connection: close', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Count')]));
  try {
    const r = await rawExchange(h.port, 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n');
    const p = parseRaw(r.text);
    assert.equal(p.body, 'Bad Request');
    assert.equal(p.headers['content-type'], 'text/plain');
    assert.equal(p.headers['connection'], 'close');
  } finally { await h.close(); }
});

test('headers: 59 KB accepted, over max_request_headers_kb (60) -> 431', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Count')]));
  try {
    const ok = await rawExchange(h.port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(59 * 1024)}\r\nConnection: close\r\n\r\n`);
    assert.equal(parseRaw(ok.text).status, 200);
    assert.equal(seen.upstreamCalls, 1);
    const big = await rawExchange(h.port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(61 * 1024)}\r\n\r\n`);
    const p = parseRaw(big.text);
    assert.equal(p.status, 431);
    assert.equal(p.body, 'Request Header Fields Too Large');
    assert.ok(big.closed);
    assert.equal(seen.upstreamCalls, 1);
  } finally { await h.close(); }
  const h2 = await Harness.start(hcmConfig([filter('test.remora.Count')], { max_request_headers_kb: 2 }));
  try {
    const big = await rawExchange(h2.port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(3000)}\r\n\r\n`);
    assert.equal(parseRaw(big.text).status, 431);
  } finally { await h2.close(); }
});

test('header count over max_headers_count -> 431', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Count')], { common_http_protocol_options: { max_headers_count: 10 } }));
  try {
    const hdr = (n: number) => Array.from({ length: n }, (_, i) => `X-H${i}: v\r\n`).join('');
    const ok = await rawExchange(h.port, `GET / HTTP/1.1\r\nHost: x\r\n${hdr(8)}Connection: close\r\n\r\n`);
    assert.equal(parseRaw(ok.text).status, 200);
    const bad = await rawExchange(h.port, `GET / HTTP/1.1\r\nHost: x\r\n${hdr(20)}\r\n`);
    assert.equal(parseRaw(bad.text).status, 431);
    assert.ok(bad.closed);
    assert.equal(seen.upstreamCalls, 1);
  } finally { await h.close(); }
  const h2 = await Harness.start(hcmConfig([filter('test.remora.Count')]));
  try {
    const hdr = Array.from({ length: 120 }, (_, i) => `X-H${i}: v\r\n`).join('');
    const bad = await rawExchange(h2.port, `GET / HTTP/1.1\r\nHost: x\r\n${hdr}\r\n`);
    assert.equal(parseRaw(bad.text).status, 431);
  } finally { await h2.close(); }
});

test('headers_with_underscores_action: REJECT_REQUEST -> 400, DROP_HEADER drops them', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Echo')], { common_http_protocol_options: { headers_with_underscores_action: 'REJECT_REQUEST' } }));
  try {
    const r = await rawExchange(h.port, 'GET / HTTP/1.1\r\nHost: x\r\nX_Under: 1\r\n\r\n');
    assert.equal(parseRaw(r.text).status, 400);
    assert.ok(r.closed);
    assert.equal(seen.decodeHeaders, 0);
  } finally { await h.close(); }
  const h2 = await Harness.start(hcmConfig([filter('test.remora.Echo')], { common_http_protocol_options: { headers_with_underscores_action: 'DROP_HEADER' } }));
  try {
    const r = await rawExchange(h2.port, 'GET / HTTP/1.1\r\nHost: x\r\nX_Under: 1\r\nX-Ok: 2\r\nConnection: close\r\n\r\n');
    const j = JSON.parse(parseRaw(r.text).body).headers;
    assert.equal(j['x_under'], undefined);
    assert.equal(j['x-ok'], '2');
  } finally { await h2.close(); }
});

test('a parse error in a pipelined request after a valid one: the first is answered, then 400 and close', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Count')]));
  try {
    const r = await rawExchange(h.port, 'GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nX (bad): 1\r\n\r\n');
    // The valid request is answered; the bad one never reaches the upstream.
    assert.match(r.text, /^HTTP\/1\.1 200/);
    assert.ok(r.closed);
    assert.equal(seen.upstreamCalls, 1);
  } finally { await h.close(); }
});

test('a bad chunk in the body of a request already being served: stream aborted, upstream sees no complete request', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Hang')], {
    access_log: [{ name: 'cap', typed_config: { '@type': 'type.googleapis.com/test.remora.CaptureLog' } }],
  }));
  try {
    const r = await rawExchange(h.port, 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n');
    const p = parseRaw(r.text);
    assert.equal(p.status, 400);
    assert.ok(r.closed);
    assert.equal(seen.destroyed, 1);
    assert.equal(logged.length, 1);
    assert.ok((logged[0].info.responseFlags & (1 << 18)) !== 0, 'DPE flag');
    assert.equal(h.counter('downstream_cx_protocol_error'), 1);
  } finally { await h.close(); }
});

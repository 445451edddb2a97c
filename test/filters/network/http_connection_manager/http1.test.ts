import { test, after, before, beforeEach } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { Harness, hcmConfig, filter, request, rawExchange, parseRaw, until } from './harness';
import { seen, logged } from './test_filters';

beforeEach(() => { seen.reset(); logged.length = 0; });

test('local reply: Envoy shape (text/plain, content-length, server, date), stats', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.LocalReply', { status: 503, body: 'no healthy upstream' })],
    { access_log: [{ name: 'cap', typed_config: { '@type': 'type.googleapis.com/test.remora.CaptureLog' } }] }));
  try {
    const r = await request(h.port, { path: '/x' });
    assert.equal(r.status, 503);
    assert.equal(r.body.toString(), 'no healthy upstream');
    assert.equal(r.headers['content-type'], 'text/plain');
    assert.equal(r.headers['content-length'], String('no healthy upstream'.length));
    assert.equal(r.headers['server'], 'envoy');
    assert.match(String(r.headers['date']), /GMT$/);
    await until(() => logged.length === 1);
    assert.equal(h.counter('downstream_rq_total'), 1);
    assert.equal(h.counter('downstream_rq_5xx'), 1);
    assert.equal(h.counter('downstream_rq_completed'), 1);
    assert.equal(h.counter('downstream_rq_http1_total'), 1);
    assert.equal(h.counter('downstream_cx_total'), 1);
    assert.equal(h.counter('downstream_cx_http1_total'), 1);
    const l = logged[0];
    assert.equal(l.info.responseCode, 503);
    assert.equal(l.info.responseCodeDetails, 'test_reply');
    assert.equal(l.info.protocol, 'HTTP/1.1');
    assert.equal(l.info.routeName, 'r0');
    assert.equal(l.req?.[':path'], '/x');
    assert.equal(l.resp?.[':status'], '503');
    assert.ok(h.store.histograms.get('http.test.downstream_rq_time')!.count >= 1);
  } finally { await h.close(); }
});

test('local reply with empty body: no content-type, content-length 0', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.LocalReply', { status: 404, body: '' })]));
  try {
    const r = await request(h.port);
    assert.equal(r.status, 404);
    assert.equal(r.headers['content-length'], '0');
    assert.equal(r.headers['content-type'], undefined);
    assert.equal(r.body.length, 0);
    assert.equal(h.counter('downstream_rq_4xx'), 1);
  } finally { await h.close(); }
});

test('gRPC local reply is trailers-only with grpc-status from the HTTP status', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.LocalReply', { status: 503, body: 'no healthy upstream\n' })]));
  try {
    const r = await request(h.port, { method: 'POST', headers: { 'content-type': 'application/grpc' }, body: '' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/grpc');
    assert.equal(r.headers['grpc-status'], '14');
    assert.equal(r.headers['grpc-message'], 'no%20healthy%20upstream'.replace(/%20/g, ' '));
    const r2 = await request(h.port, { method: 'POST', headers: { 'content-type': 'application/grpc+proto' }, body: '' });
    assert.equal(r2.headers['grpc-status'], '14');
  } finally { await h.close(); }
  const h2 = await Harness.start(hcmConfig([filter('test.remora.LocalReply', { status: 404, body: 'ünï%' })]));
  try {
    const r = await request(h2.port, { method: 'POST', headers: { 'content-type': 'application/grpc' }, body: '' });
    assert.equal(r.headers['grpc-status'], '12');
    assert.equal(r.headers['grpc-message'], '%C3%BCn%C3%AF%25');
  } finally { await h2.close(); }
  const h3 = await Harness.start(hcmConfig([filter('test.remora.LocalReply', { status: 504, body: 'upstream request timeout', grpc_status: 4 })]));
  try {
    const r = await request(h3.port, { method: 'POST', headers: { 'content-type': 'application/grpc' }, body: '' });
    assert.equal(r.headers['grpc-status'], '4');
  } finally { await h3.close(); }
});

test('echo: GET, POST with content-length and chunked body; keep-alive reuses the connection', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Echo')]));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const a = await request(h.port, { path: '/a?q=1', agent });
    const ja = JSON.parse(a.body.toString());
    assert.equal(ja.headers[':method'], 'GET');
    assert.equal(ja.headers[':path'], '/a?q=1');
    assert.equal(ja.headers[':authority'], `127.0.0.1:${h.port}`);
    assert.equal(ja.headers[':scheme'], 'http');
    assert.equal(ja.headers['host'], undefined);
    assert.equal(ja.headers['x-forwarded-proto'], 'http');
    assert.match(ja.headers['x-request-id'], /^[0-9a-f-]{36}$/);
    assert.equal(ja.route, 'r0');
    const b = await request(h.port, { path: '/b', method: 'POST', body: 'hello world', agent });
    assert.equal(JSON.parse(b.body.toString()).body, 'hello world');
    const c = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: h.port, path: '/c', method: 'PUT', agent }, (res) => {
        let s = ''; res.on('data', (d) => s += d); res.on('end', () => resolve(s));
      });
      req.on('error', reject);
      req.write('part1-');
      setTimeout(() => req.end('part2'), 20);
    });
    const jc = JSON.parse(c);
    assert.equal(jc.body, 'part1-part2');
    assert.equal(jc.headers['transfer-encoding'], undefined);
    assert.equal(h.counter('downstream_cx_total'), 1);
    assert.equal(h.counter('downstream_rq_total'), 3);
  } finally { agent.destroy(); await h.close(); }
});

test('pipelined requests are answered in order', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Pause', { delay_ms: 5 }), filter('test.remora.Echo')]));
  try {
    const reqs = ['/one', '/two', '/three'].map((p) => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`).join('');
    const sock = net.connect(h.port, '127.0.0.1');
    let text = '';
    sock.on('data', (d) => { text += d.toString(); });
    sock.write(reqs);
    await until(() => (text.match(/HTTP\/1\.1 200/g) ?? []).length === 3);
    const paths = [...text.matchAll(/"\:path":"([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(paths, ['/one', '/two', '/three']);
    sock.destroy();
  } finally { await h.close(); }
});

test('filter chain: StopIteration + continueDecoding buffers the body; re-entrant continue; encoder order', async () => {
  const h = await Harness.start(hcmConfig([
    filter('test.remora.Headers', { tag: 'a' }, 'ha'),
    filter('test.remora.Pause', { delay_ms: 30 }),
    filter('test.remora.SyncContinue'),
    filter('test.remora.Headers', { tag: 'b', request: 'x-req-b' }, 'hb'),
    filter('test.remora.Echo'),
  ]));
  try {
    const r = await request(h.port, { method: 'POST', body: 'x'.repeat(5000) });
    assert.equal(r.status, 200);
    const j = JSON.parse(r.body.toString());
    assert.equal(j.bodyLength, 5000);
    assert.equal(j.headers['x-req-filter'], 'added');
    assert.equal(j.headers['x-req-b'], 'added');
    // encoders run in reverse order: b first, then a
    assert.equal(r.headers['x-order'], 'b,a');
  } finally { await h.close(); }
  const h2 = await Harness.start(hcmConfig([filter('test.remora.Pause', { delay_ms: 30, stop_all: true }), filter('test.remora.Echo')]));
  try {
    const r = await request(h2.port, { method: 'POST', body: 'y'.repeat(3000) });
    assert.equal(JSON.parse(r.body.toString()).bodyLength, 3000);
  } finally { await h2.close(); }
});

test('request body above the buffer limit while buffering -> 413', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Buffer'), filter('test.remora.Echo')]), { bufferLimit: 1024 });
  try {
    const ok = await request(h.port, { method: 'POST', body: 'a'.repeat(1000) });
    assert.equal(ok.status, 200);
    const r = await request(h.port, { method: 'POST', body: 'a'.repeat(4096) }).catch((e) => e);
    if (r instanceof Error) assert.match(r.message, /socket|ECONNRESET|EPIPE/);
    else {
      assert.equal(r.status, 413);
      assert.equal(r.body.toString(), 'Payload Too Large');
    }
    await until(() => h.counter('downstream_rq_too_large') === 1);
  } finally { await h.close(); }
});

test('response buffered above the limit in an encoder filter -> 500, rs_too_large', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.EncodeBuffer'), filter('test.remora.Stream', { chunks: 8, chunk_size: 512 })]), { bufferLimit: 1024 });
  try {
    const r = await request(h.port);
    assert.equal(r.status, 500);
    assert.equal(h.counter('rs_too_large'), 1);
  } finally { await h.close(); }
});

test('a filter that throws yields a 500 local reply, not a crash', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Throw'), filter('test.remora.Echo')]));
  try {
    const r = await request(h.port);
    assert.equal(r.status, 500);
    assert.equal(seen.decodeHeaders, 0);
  } finally { await h.close(); }
});

test('response trailers over HTTP/1.1 chunked only with enable_trailers; request trailers reach filters', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Echo', { trailers: true })], { http_protocol_options: { enable_trailers: true } }));
  try {
    const r = await new Promise<{ trailers: NodeJS.Dict<string>; body: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: h.port, method: 'POST', agent: false, headers: { te: 'trailers' } }, (res) => {
        let b = ''; res.on('data', (d) => b += d); res.on('end', () => resolve({ trailers: res.trailers, body: b }));
      });
      req.on('error', reject);
      req.write('body');
      req.addTrailers({ 'x-req-trailer': 'v1' });
      req.end();
    });
    assert.equal(r.trailers['x-trailer'], 'done');
    assert.deepEqual(JSON.parse(r.body).trailers, { 'x-req-trailer': 'v1' });
  } finally { await h.close(); }
  const h2 = await Harness.start(hcmConfig([filter('test.remora.Echo', { trailers: true })]));
  try {
    const r = await request(h2.port, { method: 'POST', body: 'b' });
    assert.deepEqual(r.trailers, {});
    assert.equal(JSON.parse(r.body.toString()).body, 'b');
  } finally { await h2.close(); }
});

test('HTTP/1.0: 426 by default, served with accept_http_10 (+ default host)', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Echo')]));
  try {
    const r = await rawExchange(h.port, 'GET / HTTP/1.0\r\nHost: a\r\n\r\n');
    assert.equal(parseRaw(r.text).status, 426);
  } finally { await h.close(); }
  const h2 = await Harness.start(hcmConfig([filter('test.remora.Echo')], { http_protocol_options: { accept_http_10: true, default_host_for_http_10: 'dflt' } }));
  try {
    const r = await rawExchange(h2.port, 'GET /x HTTP/1.0\r\n\r\n');
    const p = parseRaw(r.text);
    assert.equal(p.status, 200);
    assert.equal(JSON.parse(p.body).headers[':authority'], 'dflt');
    assert.ok(r.closed);
  } finally { await h2.close(); }
});

test('header manipulation: hop-by-hop stripped, te trailers kept, x-envoy-* cleaned for external requests', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Echo')]));
  try {
    const r = await request(h.port, {
      headers: {
        connection: 'keep-alive', 'keep-alive': 'timeout=5', 'proxy-connection': 'keep-alive', te: 'trailers, deflate',
        'x-forwarded-for': '203.0.113.7', 'x-envoy-retry-on': '5xx', 'x-envoy-upstream-rq-timeout-ms': '1',
        'x-envoy-internal': 'true', 'x-envoy-decorator-operation': 'keep-me', 'x-request-id': 'abc',
      },
    });
    const j = JSON.parse(r.body.toString()).headers;
    assert.equal(j['connection'], undefined);
    assert.equal(j['keep-alive'], undefined);
    assert.equal(j['proxy-connection'], undefined);
    assert.equal(j['te'], 'trailers');
    assert.equal(j['x-envoy-retry-on'], undefined);
    assert.equal(j['x-envoy-upstream-rq-timeout-ms'], undefined);
    assert.equal(j['x-envoy-internal'], undefined);
    // not an edge request (use_remote_address false): decorator header kept
    assert.equal(j['x-envoy-decorator-operation'], 'keep-me');
    assert.equal(j['x-forwarded-for'], '203.0.113.7');
    assert.equal(j['x-request-id'], 'abc');
    // internal request (XFF = single internal address): x-envoy-internal set, retry headers kept
    const r2 = await request(h.port, { headers: { 'x-forwarded-for': '10.1.2.3', 'x-envoy-retry-on': '5xx' } });
    const j2 = JSON.parse(r2.body.toString()).headers;
    assert.equal(j2['x-envoy-internal'], 'true');
    assert.equal(j2['x-envoy-retry-on'], '5xx');
  } finally { await h.close(); }
});

test('use_remote_address: XFF appended (loopback peer -> local address), edge request id regenerated, external address', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Echo')], { use_remote_address: true, always_set_request_id_in_response: true }));
  try {
    const r = await request(h.port, { headers: { 'x-forwarded-for': '198.51.100.1', 'x-request-id': 'client-id', 'x-envoy-decorator-operation': 'x' } });
    const j = JSON.parse(r.body.toString()).headers;
    const xff = String(j['x-forwarded-for']).split(',');
    assert.equal(xff.length, 2);
    assert.equal(xff[0], '198.51.100.1');
    assert.equal(h.cfg.localAddress, xff[1]);
    assert.equal(j['x-forwarded-proto'], 'http');
    assert.notEqual(j['x-request-id'], 'client-id'); // edge request: regenerated
    assert.equal(r.headers['x-request-id'], j['x-request-id']);
    assert.equal(j['x-envoy-decorator-operation'], undefined);
    // Without XFF the loopback peer is internal.
    const r2 = await request(h.port);
    const j2 = JSON.parse(r2.body.toString()).headers;
    assert.equal(j2['x-envoy-internal'], 'true');
  } finally { await h.close(); }
  const h2 = await Harness.start(hcmConfig([filter('test.remora.Echo')], {
    use_remote_address: true, xff_num_trusted_hops: 1, preserve_external_request_id: true, skip_xff_append: true,
  }));
  try {
    const r = await request(h2.port, { headers: { 'x-forwarded-for': '198.51.100.1', 'x-request-id': 'client-id' } });
    const j = JSON.parse(r.body.toString()).headers;
    assert.equal(j['x-forwarded-for'], '198.51.100.1');
    assert.equal(j['x-request-id'], 'client-id');
    assert.equal(j['x-envoy-external-address'], '198.51.100.1');
  } finally { await h2.close(); }
});

test('generate_request_id false; via; server_name and server_header_transformation', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Echo', { response_headers: { server: 'upstream' } })], {
    generate_request_id: false, via: 'remora-via', server_name: 'istio-envoy',
  }));
  try {
    const r = await request(h.port);
    const j = JSON.parse(r.body.toString()).headers;
    assert.equal(j['x-request-id'], undefined);
    assert.equal(j['via'], 'remora-via');
    assert.equal(r.headers['via'], 'remora-via');
    assert.equal(r.headers['server'], 'istio-envoy');
  } finally { await h.close(); }
  for (const [mode, want] of [['PASS_THROUGH', 'upstream'], ['APPEND_IF_ABSENT', 'upstream']] as const) {
    const hp = await Harness.start(hcmConfig([filter('test.remora.Echo', { response_headers: { server: 'upstream' } })], { server_header_transformation: mode }));
    try {
      const r = await request(hp.port);
      assert.equal(r.headers['server'], want);
    } finally { await hp.close(); }
  }
});

test('absolute-form request URI: authority from the URI; https on cleartext rejected', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Echo')]));
  try {
    const r = await rawExchange(h.port, 'GET http://example.com:8080/p?x=1 HTTP/1.1\r\nHost: other\r\nConnection: close\r\n\r\n');
    const p = parseRaw(r.text);
    assert.equal(p.status, 200);
    const j = JSON.parse(p.body).headers;
    assert.equal(j[':authority'], 'example.com:8080');
    assert.equal(j[':path'], '/p?x=1');
    const r2 = await rawExchange(h.port, 'GET https://example.com/p HTTP/1.1\r\nHost: other\r\n\r\n');
    assert.equal(parseRaw(r2.text).status, 400);
    const r3 = await rawExchange(h.port, 'OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(parseRaw(r3.text).status, 404);
    assert.equal(h.counter('downstream_rq_non_relative_path'), 1);
  } finally { await h.close(); }
});

test('path normalization, merge_slashes, escaped slashes actions, fragments rejected', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Echo')], { normalize_path: true, merge_slashes: true }));
  try {
    const r = await request(h.port, { path: '/a/./b/../c//d%41%2e%2F?q=/../x' });
    assert.equal(JSON.parse(r.body.toString()).headers[':path'], '/a/c/dA.%2F?q=/../x');
    const r2 = await rawExchange(h.port, 'GET /a#frag HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(parseRaw(r2.text).status, 400);
    assert.equal(h.counter('downstream_rq_failed_path_normalization'), 1);
  } finally { await h.close(); }
  const h2 = await Harness.start(hcmConfig([filter('test.remora.Echo')], { path_with_escaped_slashes_action: 'REJECT_REQUEST' }));
  try {
    assert.equal((await request(h2.port, { path: '/a%2Fb' })).status, 400);
    assert.equal((await request(h2.port, { path: '/a/b' })).status, 200);
  } finally { await h2.close(); }
  const h3 = await Harness.start(hcmConfig([filter('test.remora.Echo')], { path_with_escaped_slashes_action: 'UNESCAPE_AND_REDIRECT' }));
  try {
    const r = await request(h3.port, { path: '/a%2fb' });
    assert.equal(r.status, 307);
    assert.equal(r.headers.location, '/a/b');
    assert.equal(h3.counter('downstream_rq_redirected_with_normalized_path'), 1);
  } finally { await h3.close(); }
  const h4 = await Harness.start(hcmConfig([filter('test.remora.Echo')], { path_with_escaped_slashes_action: 'UNESCAPE_AND_FORWARD' }));
  try {
    const r = await request(h4.port, { path: '/a%2Fb%5c' });
    assert.equal(JSON.parse(r.body.toString()).headers[':path'], '/a/b\\');
  } finally { await h4.close(); }
});

test('strip_matching_host_port / strip_any_host_port', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Echo')], { strip_matching_host_port: true }));
  try {
    const r = await request(h.port, { headers: { host: `example.com:${h.port}` } });
    assert.equal(JSON.parse(r.body.toString()).headers[':authority'], 'example.com');
    const r2 = await request(h.port, { headers: { host: 'example.com:1' } });
    assert.equal(JSON.parse(r2.body.toString()).headers[':authority'], 'example.com:1');
  } finally { await h.close(); }
  const h2 = await Harness.start(hcmConfig([filter('test.remora.Echo')], { strip_any_host_port: true }));
  try {
    const r = await request(h2.port, { headers: { host: 'example.com:1' } });
    assert.equal(JSON.parse(r.body.toString()).headers[':authority'], 'example.com');
  } finally { await h2.close(); }
});

test('local_reply_config: mapper rewrites status and body, body_format', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.LocalReply', { status: 503, body: 'no healthy upstream' })], {
    local_reply_config: {
      mappers: [{
        filter: { status_code_filter: { comparison: { op: 'EQ', value: { default_value: 503, runtime_key: 'x' } } } },
        status_code: 502,
        body: { inline_string: 'mapped' },
        headers_to_add: [{ header: { key: 'x-mapped', value: 'yes' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
      }],
      body_format: { text_format: '%LOCAL_REPLY_BODY% (%RESPONSE_CODE%)\n' },
    },
  }));
  try {
    const r = await request(h.port);
    assert.equal(r.status, 502);
    assert.equal(r.body.toString(), 'mapped (502)\n');
    assert.equal(r.headers['x-mapped'], 'yes');
  } finally { await h.close(); }
});

test('timeouts: stream idle (408 stream timeout), request timeout, max stream duration', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Hang')], { stream_idle_timeout: 80 }));
  try {
    const r = await request(h.port);
    assert.equal(r.status, 408);
    assert.equal(r.body.toString(), 'stream timeout');
    assert.equal(h.counter('downstream_rq_idle_timeout'), 1);
    assert.equal(seen.destroyed, 1);
  } finally { await h.close(); }
  const h2 = await Harness.start(hcmConfig([filter('test.remora.Hang')], { request_timeout: 80, stream_idle_timeout: 0 }));
  try {
    // The request body never completes.
    const r = await rawExchange(h2.port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc');
    const p = parseRaw(r.text);
    assert.equal(p.status, 408);
    assert.equal(p.body, 'request timeout');
    assert.equal(h2.counter('downstream_rq_timeout'), 1);
  } finally { await h2.close(); }
  const h3 = await Harness.start(hcmConfig([filter('test.remora.Hang')], { common_http_protocol_options: { max_stream_duration: 80 } }));
  try {
    const r = await request(h3.port);
    assert.equal(r.status, 408);
    assert.equal(r.body.toString(), 'downstream duration timeout');
    assert.equal(h3.counter('downstream_rq_max_duration_reached'), 1);
  } finally { await h3.close(); }
});

test('request_headers_timeout answers a slowloris client with 408', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Count')], { request_headers_timeout: 100 }));
  try {
    const r = await rawExchange(h.port, 'GET / HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n', 3000);
    const p = parseRaw(r.text);
    assert.equal(p.status, 408);
    assert.equal(p.body, 'request header timeout');
    assert.equal(h.counter('downstream_rq_header_timeout'), 1);
    assert.equal(seen.upstreamCalls, 0);
  } finally { await h.close(); }
});

test('connection idle_timeout closes an idle keep-alive connection', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Echo')], { common_http_protocol_options: { idle_timeout: 100 } }));
  try {
    const r = await rawExchange(h.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', 3000);
    assert.equal(parseRaw(r.text).status, 200);
    assert.equal(h.counter('downstream_cx_idle_timeout'), 1);
  } finally { await h.close(); }
});

test('max_requests_per_connection: connection: close on the last allowed response', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Echo')], { common_http_protocol_options: { max_requests_per_connection: 2 } }));
  try {
    const r = await rawExchange(h.port, 'GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal((r.text.match(/HTTP\/1\.1 200/g) ?? []).length, 2);
    assert.match(r.text, /connection: close/i);
    assert.equal(h.counter('downstream_cx_max_requests_reached'), 1);
  } finally { await h.close(); }
});

test('draining: responses get connection: close; idle connections are closed', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Pause', { delay_ms: 50 }), filter('test.remora.Echo')]));
  try {
    const sock = net.connect(h.port, '127.0.0.1');
    let text = '';
    let closed = false;
    sock.on('data', (d) => { text += d.toString(); });
    sock.on('close', () => { closed = true; });
    sock.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => h.conns.size === 1 && h.gauge('downstream_rq_active') === 1);
    h.drain();
    await until(() => closed);
    assert.match(text, /HTTP\/1\.1 200/);
    assert.match(text, /connection: close/i);
    assert.equal(h.counter('downstream_cx_drain_close'), 1);
    // an idle connection is closed when the listener drains
    const idle = net.connect(h.port, '127.0.0.1');
    let idleClosed = false;
    idle.on('close', () => { idleClosed = true; });
    await until(() => h.conns.size === 1);
    h.drain();
    await until(() => idleClosed);
  } finally { await h.close(); }
});

test('client disconnect mid-request resets the stream (DC), filters destroyed, stats', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Hang')], {
    access_log: [{ name: 'cap', typed_config: { '@type': 'type.googleapis.com/test.remora.CaptureLog' } }],
  }));
  try {
    const sock = net.connect(h.port, '127.0.0.1');
    sock.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc');
    await until(() => seen.decodeHeaders === 1);
    sock.destroy();
    await until(() => logged.length === 1);
    assert.equal(seen.destroyed, 1);
    assert.equal(logged[0].info.responseCode, 0);
    assert.ok((logged[0].info.responseFlags & (1 << 14)) !== 0, 'DC flag');
    assert.equal(h.counter('downstream_rq_rx_reset'), 1);
    await until(() => h.counter('downstream_cx_destroy') === 1);
    assert.equal(h.counter('downstream_cx_destroy_remote_active_rq'), 1);
    assert.equal(h.gauge('downstream_rq_active'), 0);
    assert.equal(h.gauge('downstream_cx_active'), 0);
  } finally { await h.close(); }
});

test('initialData (bytes read by listener filters) is replayed first', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Echo')]), { peekBytes: 10 });
  try {
    const r = await request(h.port, { path: '/replayed' });
    assert.equal(JSON.parse(r.body.toString()).headers[':path'], '/replayed');
  } finally { await h.close(); }
});

test('response streaming honours downstream watermarks', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Stream', { chunks: 400, chunk_size: 16384 })]));
  try {
    const r = await new Promise<number>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: h.port, agent: false }, (res) => {
        let n = 0;
        res.pause();
        setTimeout(() => { res.on('data', (d) => { n += d.length; }); res.on('end', () => resolve(n)); res.resume(); }, 100);
      });
      req.on('error', reject);
    });
    assert.equal(r, 400 * 16384);
    assert.ok(seen.watermarkAbove > 0, 'above-high-watermark signalled');
    assert.equal(seen.watermarkAbove, seen.watermarkBelow);
  } finally { await h.close(); }
});

test('header_key_format.proper_case_words; add_user_agent; internal_address_config; ipv4-mapped XFF', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Echo', { response_headers: { 'x-some-header': 'v' } })], {
    http_protocol_options: { header_key_format: { proper_case_words: {} } },
    add_user_agent: true,
    use_remote_address: true,
    internal_address_config: { cidr_ranges: [{ address_prefix: '198.51.100.0', prefix_len: 24 }] },
  }));
  try {
    const r = await request(h.port, { headers: { 'x-forwarded-for': '198.51.100.9' } });
    assert.ok(r.rawHeaders.includes('X-Some-Header'), r.rawHeaders.join(' '));
    assert.ok(r.rawHeaders.includes('Content-Type'));
    const j = JSON.parse(r.body.toString()).headers;
    assert.equal(j['x-envoy-downstream-service-cluster'], 'cluster-1');
    assert.equal(j['x-envoy-downstream-service-node'], 'node-1');
    assert.equal(j['user-agent'], 'cluster-1');
    // 127.0.0.1 is not in the configured internal ranges: external (edge) request
    const r2 = await request(h.port);
    assert.equal(JSON.parse(r2.body.toString()).headers['x-envoy-internal'], undefined);
    assert.equal(JSON.parse(r2.body.toString()).headers['x-envoy-external-address'], '127.0.0.1');
  } finally { await h.close(); }
});

test('common_http_protocol_options.max_connection_duration drains the connection', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Echo')], { common_http_protocol_options: { max_connection_duration: 100 } }));
  try {
    const r = await rawExchange(h.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', 3000);
    assert.equal(parseRaw(r.text).status, 200);
    assert.ok(r.closed);
    assert.equal(h.counter('downstream_cx_max_duration_reached'), 1);
  } finally { await h.close(); }
});

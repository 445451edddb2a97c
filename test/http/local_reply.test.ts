import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { prepareLocalReply, httpToGrpcStatus, hasGrpcContentType, percentEncodeGrpcMessage, compileLocalReplyConfig } from '../../src/http/local_reply';
import { statusText, parseStatus, statusClass, statusHasNoBody } from '../../src/http/codes';
import { StreamInfo, type ConnectionInfo } from '../../src/common/stream_info';

const conn = { id: 1 } as ConnectionInfo;

test('plain local replies', () => {
  const info = new StreamInfo(conn);
  const r = prepareLocalReply(undefined, {}, info, 503, 'no healthy upstream', undefined, false, false, undefined);
  assert.deepEqual(r.headers, { ':status': '503', 'content-length': '19', 'content-type': 'text/plain' });
  assert.equal(r.body, 'no healthy upstream');
  assert.equal(info.responseCode, 503);
  const e = prepareLocalReply(undefined, {}, info, 404, '', { 'content-type': 'x', 'x-a': 'b' }, false, false, undefined);
  assert.deepEqual(e.headers, { ':status': '404', 'x-a': 'b' });
  const head = prepareLocalReply(undefined, {}, info, 503, 'body', undefined, false, true, undefined);
  assert.equal(head.headers['content-length'], '4');
  assert.equal(head.body, '');
});

test('gRPC local replies: trailers-only, grpc-status mapping, percent-encoded grpc-message', () => {
  const info = new StreamInfo(conn);
  const r = prepareLocalReply(undefined, {}, info, 504, 'upstream request timeout', undefined, true, false, undefined);
  assert.deepEqual(r.headers, { ':status': '200', 'content-type': 'application/grpc', 'grpc-status': '14', 'grpc-message': 'upstream request timeout' });
  assert.equal(r.body, '');
  assert.equal(info.responseCode, 504);
  const d = prepareLocalReply(undefined, {}, info, 408, 'downstream duration timeout', undefined, true, false, 4);
  assert.equal(d.headers['grpc-status'], '4');
  assert.equal(httpToGrpcStatus(400), 13);
  assert.equal(httpToGrpcStatus(401), 16);
  assert.equal(httpToGrpcStatus(403), 7);
  assert.equal(httpToGrpcStatus(404), 12);
  assert.equal(httpToGrpcStatus(429), 14);
  assert.equal(httpToGrpcStatus(502), 14);
  assert.equal(httpToGrpcStatus(503), 14);
  assert.equal(httpToGrpcStatus(500), 2);
  assert.equal(percentEncodeGrpcMessage('a b%c\n'), 'a b%25c%0A');
  assert.equal(percentEncodeGrpcMessage('ü'), '%C3%BC');
  assert.ok(hasGrpcContentType({ 'content-type': 'application/grpc' }));
  assert.ok(hasGrpcContentType({ 'content-type': 'application/grpc+proto' }));
  assert.ok(hasGrpcContentType({ 'content-type': 'application/grpc;x=1' }));
  assert.ok(!hasGrpcContentType({ 'content-type': 'application/grpc-web' }));
  assert.ok(!hasGrpcContentType({}));
});

test('local_reply_config: first matching mapper wins; body format applies', () => {
  const cfg = compileLocalReplyConfig({
    mappers: [
      { filter: { k: 'no' }, status_code: 400, body: { inline_string: 'nope' } },
      { filter: { k: 'yes' }, status_code: 502, body: { inline_string: 'mapped' } },
    ],
    body_format: { k: 'fmt' },
  }, 'local_reply_config', {
    compileFilter: (c) => ({ evaluate: () => c.k === 'yes' }),
    compileBodyFormat: () => ({ contentType: 'application/json', format: (i: StreamInfo) => `{"code":${i.responseCode},"body":"${(i as StreamInfo & { localReplyBody?: string }).localReplyBody}"}` }),
    compileHeaders: () => ({ apply: () => undefined }),
    readDataSource: (ds) => String(ds.inline_string),
  })!;
  const info = new StreamInfo(conn);
  const r = prepareLocalReply(cfg, {}, info, 503, 'orig', undefined, false, false, undefined);
  assert.equal(r.headers[':status'], '502');
  assert.equal(r.body, '{"code":502,"body":"mapped"}');
  assert.equal(r.headers['content-type'], 'application/json');
  assert.equal(compileLocalReplyConfig(undefined, 'x', {} as never), undefined);
});

test('codes', () => {
  assert.equal(statusText(431), 'Request Header Fields Too Large');
  assert.equal(statusText(499), 'Unknown');
  assert.equal(parseStatus('204'), 204);
  assert.equal(parseStatus('2x4'), 0);
  assert.equal(parseStatus(undefined), 0);
  assert.equal(statusClass(503), 5);
  assert.ok(statusHasNoBody(304) && statusHasNoBody(101) && !statusHasNoBody(200));
});

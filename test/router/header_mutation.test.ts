import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as os from 'node:os';
import { ConfigError } from '../../src/config/errors';
import type { Headers } from '../../src/http/headers';
import {
  applyHeaderMutations, compileHeaderLevel, compileRouteConfig, concatMutations, formatTime, parseHeaderFormatter,
} from '../../src/router/index';
import { StreamInfo } from '../../src/common/stream_info';
import { req } from './helpers';

const hvo = (key: string, value: string, extra: object = {}) => ({ header: { key, value }, ...extra });

function apply(adds: object[], removes: string[], headers: Headers, ctx = {}): Headers {
  const list = concatMutations([compileHeaderLevel(adds, removes, 'p', 'request_headers_to_add', 'request_headers_to_remove')]);
  applyHeaderMutations(list, headers, ctx);
  return headers;
}

test('append actions', () => {
  assert.deepEqual(apply([hvo('x', 'new')], [], { x: 'old' }), { x: ['old', 'new'] }, 'default APPEND_IF_EXISTS_OR_ADD');
  assert.deepEqual(apply([hvo('x', 'new')], [], {}), { x: 'new' });
  assert.deepEqual(apply([hvo('x', 'new', { append_action: 'ADD_IF_ABSENT' })], [], { x: 'old' }), { x: 'old' });
  assert.deepEqual(apply([hvo('x', 'new', { append_action: 'ADD_IF_ABSENT' })], [], {}), { x: 'new' });
  assert.deepEqual(apply([hvo('x', 'new', { append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' })], [], { x: ['a', 'b'] }), { x: 'new' });
  assert.deepEqual(apply([hvo('x', 'new', { append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' })], [], {}), { x: 'new' });
  assert.deepEqual(apply([hvo('x', 'new', { append_action: 'OVERWRITE_IF_EXISTS' })], [], { x: 'old' }), { x: 'new' });
  assert.deepEqual(apply([hvo('x', 'new', { append_action: 'OVERWRITE_IF_EXISTS' })], [], {}), {});
  // deprecated append bool
  assert.deepEqual(apply([hvo('x', 'new', { append: true })], [], { x: 'old' }), { x: ['old', 'new'] });
  assert.deepEqual(apply([hvo('x', 'new', { append: false })], [], { x: 'old' }), { x: 'new' });
  assert.throws(() => apply([hvo('x', 'v', { append: true, append_action: 'ADD_IF_ABSENT' })], [], {}),
    (e: unknown) => e instanceof ConfigError && e.path === 'p.request_headers_to_add[0]' && /Both append and append_action/.test(e.message));
});

test('keep_empty_value, key case, removal before addition', () => {
  assert.deepEqual(apply([hvo('x', '')], [], {}), {}, 'empty values are skipped');
  assert.deepEqual(apply([hvo('x', '', { keep_empty_value: true })], [], {}), { x: '' });
  assert.deepEqual(apply([hvo('X-Upper', 'v')], [], {}), { 'x-upper': 'v' });
  assert.deepEqual(apply([hvo('x', 'new')], ['X'], { x: 'old', y: '1' }), { x: 'new', y: '1' }, 'removes first');
  assert.deepEqual(apply([], ['a', 'b'], { a: '1', b: ['2', '3'], c: '4' }), { c: '4' });
  assert.deepEqual(apply([hvo('x', '%REQ(x-missing)%')], [], {}), {}, 'a formatter yielding "" is skipped');
});

test('within one level, decisions use the state before the level adds anything (Envoy HeaderParser)', () => {
  // Same key twice: both ADD_IF_ABSENT entries see "absent"; overwrites apply before appends.
  assert.deepEqual(apply([hvo('x', 'a', { append_action: 'ADD_IF_ABSENT' }), hvo('x', 'b', { append_action: 'ADD_IF_ABSENT' })], [], {}),
    { x: ['a', 'b'] });
  assert.deepEqual(apply([hvo('x', 'app'), hvo('x', 'ow', { append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' })], [], {}),
    { x: ['ow', 'app'] });
  assert.deepEqual(apply([hvo('x', 'ow1', { append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }), hvo('x', 'ow2', { append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' })], [], {}),
    { x: 'ow2' });
  assert.deepEqual(apply([hvo('x', 'v', { append_action: 'OVERWRITE_IF_EXISTS' }), hvo('x', 'a')], [], {}), { x: 'a' },
    'OVERWRITE_IF_EXISTS does not see the same level\'s addition');
  // A formatter reading a header the level sets sees the original value.
  const h = apply([hvo('a', 'new', { append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }), hvo('b', '%REQ(a)%')], [], { a: 'orig' });
  // (ctx.requestHeaders is the same object in the router; emulate that)
  assert.deepEqual(h, { a: 'new' });
  const h2: Headers = { a: 'orig' };
  apply([hvo('a', 'new', { append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }), hvo('b', '%REQ(a)%')], [], h2, { requestHeaders: h2 });
  assert.deepEqual(h2, { a: 'new', b: 'orig' });
});

test('levels: route, vhost, route config by default; reversed with most_specific_header_mutations_wins', () => {
  const cfg = (wins: boolean) => ({
    name: 'rc',
    most_specific_header_mutations_wins: wins,
    request_headers_to_add: [hvo('x-o', 'config', { append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }), hvo('x-a', 'config')],
    response_headers_to_add: [hvo('x-r', 'config', { append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' })],
    response_headers_to_remove: ['x-drop'],
    virtual_hosts: [{
      name: 'vh', domains: ['*'],
      request_headers_to_add: [hvo('x-o', 'vhost', { append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }), hvo('x-a', 'vhost')],
      response_headers_to_add: [hvo('x-r', 'vhost', { append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' })],
      routes: [{
        match: { prefix: '/' }, route: { cluster: 'c' },
        request_headers_to_add: [hvo('x-o', 'route', { append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }), hvo('x-a', 'route')],
        request_headers_to_remove: ['x-strip'],
        response_headers_to_add: [hvo('x-r', 'route', { append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }), hvo('x-drop', 'kept-by-route')],
      }],
    }],
  });
  const dflt = compileRouteConfig(cfg(false)).route(req('/'), 0)!;
  const h: Headers = { 'x-strip': '1' };
  applyHeaderMutations(dflt.requestHeaderMutations, h, { requestHeaders: h });
  assert.deepEqual(h, { 'x-o': 'config', 'x-a': ['route', 'vhost', 'config'] }, 'least specific (config) wins by default');
  const rh: Headers = {};
  applyHeaderMutations(dflt.responseHeaderMutations, rh, { responseHeaders: rh });
  assert.deepEqual(rh, { 'x-r': 'config' }, 'route config removes x-drop after the route added it');
  const wins = compileRouteConfig(cfg(true)).route(req('/'), 0)!;
  const h2: Headers = {};
  applyHeaderMutations(wins.requestHeaderMutations, h2, { requestHeaders: h2 });
  assert.deepEqual(h2, { 'x-o': 'route', 'x-a': ['config', 'vhost', 'route'] });
  const rh2: Headers = {};
  applyHeaderMutations(wins.responseHeaderMutations, rh2, {});
  assert.deepEqual(rh2, { 'x-r': 'route', 'x-drop': 'kept-by-route' });
});

test('formatters: REQ/RESP with alternatives and truncation, addresses, HOSTNAME, START_TIME, metadata', () => {
  const si = new StreamInfo({
    id: 7, remoteAddress: '10.1.2.3', remotePort: 5555, directRemoteAddress: '10.9.9.9', directRemotePort: 1,
    localAddress: '::1', localPort: 8080, sni: 'sni.example', alpn: [], transportProtocol: 'tls', tls: true,
    listenerName: 'l', filterChainName: 'fc', peerUriSans: ['spiffe://a', 'spiffe://b'],
  });
  si.startTime = Date.UTC(2024, 0, 2, 3, 4, 5, 678);
  si.upstreamHost = { address: '10.0.0.1:9080' };
  si.upstreamCluster = 'outbound|9080||reviews';
  si.protocol = 'HTTP/1.1';
  si.routeName = 'r1';
  si.requestId = 'rid';
  si.dynamicMetadata = { 'envoy.lb': { version: 'v2', nested: { k: 1 } } };
  si.filterState = new Map([['my.key', 'fs-value']]);
  const requestHeaders: Headers = { 'x-user': 'alice', 'x-long': 'abcdefgh', ':path': '/p' };
  const responseHeaders: Headers = { 'x-resp': 'r' };
  const ctx = { requestHeaders, responseHeaders, streamInfo: si };
  const f = (t: string) => parseHeaderFormatter(t, 'p').format(ctx);
  assert.equal(f('plain'), 'plain');
  assert.equal(f('100%%'), '100%');
  assert.equal(f('%REQ(x-user)%'), 'alice');
  assert.equal(f('%REQ(X-USER)%'), 'alice');
  assert.equal(f('%REQ(x-none?x-user)%'), 'alice');
  assert.equal(f('%REQ(x-long):3%'), 'abc');
  assert.equal(f('%REQ(:path)%'), '/p');
  assert.equal(f('%RESP(x-resp)%'), 'r');
  assert.equal(f('[%REQ(x-none)%]'), '[]');
  assert.equal(f('%DOWNSTREAM_REMOTE_ADDRESS%'), '10.1.2.3:5555');
  assert.equal(f('%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%'), '10.1.2.3');
  assert.equal(f('%DOWNSTREAM_REMOTE_PORT%'), '5555');
  assert.equal(f('%DOWNSTREAM_DIRECT_REMOTE_ADDRESS%'), '10.9.9.9:1');
  assert.equal(f('%DOWNSTREAM_LOCAL_ADDRESS%'), '[::1]:8080');
  assert.equal(f('%DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT%'), '::1');
  assert.equal(f('%DOWNSTREAM_LOCAL_PORT%'), '8080');
  assert.equal(f('%UPSTREAM_HOST%'), '10.0.0.1:9080');
  assert.equal(f('%UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%'), '10.0.0.1');
  assert.equal(f('%UPSTREAM_REMOTE_PORT%'), '9080');
  assert.equal(f('%UPSTREAM_CLUSTER%'), 'outbound|9080||reviews');
  assert.equal(f('%REQUESTED_SERVER_NAME%'), 'sni.example');
  assert.equal(f('%DOWNSTREAM_PEER_URI_SAN%'), 'spiffe://a,spiffe://b');
  assert.equal(f('%CONNECTION_ID%'), '7');
  assert.equal(f('%STREAM_ID%'), 'rid');
  assert.equal(f('%PROTOCOL%'), 'HTTP/1.1');
  assert.equal(f('%ROUTE_NAME%'), 'r1');
  assert.equal(f('%HOSTNAME%'), os.hostname());
  assert.equal(f('%START_TIME%'), '2024-01-02T03:04:05.678Z');
  assert.equal(f('%START_TIME(%Y/%m/%d %H:%M:%S)%'), '2024/01/02 03:04:05');
  assert.equal(f('%START_TIME(%s.%3f)%'), '1704164645.678');
  assert.equal(f('%START_TIME(%E3S)%'), '05.678');
  assert.equal(f('%DYNAMIC_METADATA(envoy.lb:version)%'), 'v2');
  assert.equal(f('%DYNAMIC_METADATA(envoy.lb:nested)%'), '{"k":1}');
  assert.equal(f('%DYNAMIC_METADATA(envoy.lb:none)%'), '');
  assert.equal(f('%FILTER_STATE(my.key)%'), 'fs-value');
  assert.equal(f('%PER_REQUEST_STATE(my.key)%'), 'fs-value');
  assert.equal(f('%UPSTREAM_METADATA(["envoy.lb", "x"])%'), '');
  si.upstreamHost = { address: '10.0.0.1:9080', metadata: { filter_metadata: { 'envoy.lb': { x: 'y' } } } } as never;
  assert.equal(f('%UPSTREAM_METADATA(["envoy.lb", "x"])%'), 'y');
  assert.equal(f('a-%UPSTREAM_CLUSTER%-b-%PROTOCOL%'), 'a-outbound|9080||reviews-b-HTTP/1.1');
  process.env.REMORA_ROUTER_TEST_ENV = 'env-val';
  assert.equal(f('%ENVIRONMENT(REMORA_ROUTER_TEST_ENV)%'), 'env-val');
  // without a stream info, values are empty
  assert.equal(parseHeaderFormatter('%DOWNSTREAM_REMOTE_ADDRESS%', 'p').format({}), '');
  assert.equal(formatTime(0, '%F %T %z %Z %a %b %j'), '1970-01-01 00:00:00 +0000 UTC Thu Jan 001');
});

test('formatter config errors', () => {
  const bad = (t: string, re: RegExp) => assert.throws(() => parseHeaderFormatter(t, 'p.header.value'),
    (e: unknown) => e instanceof ConfigError && e.path === 'p.header.value' && re.test(e.message), t);
  bad('%NOT_A_COMMAND%', /Not supported field in StreamInfo: NOT_A_COMMAND/);
  bad('50%', /Couldn't find valid command at position 2/);
  bad('%REQ(x', /Couldn't find valid command/);
  bad('%lower%', /Couldn't find valid command/);
  bad('%REQ%', /REQ requires parameters/);
  bad('%REQ(a?b?c)%', /More than 1 alternative header/);
  bad('%UPSTREAM_METADATA([1])%', /Expected format/);
});

test('header mutation config errors name the field', () => {
  const rc = (route: object) => compileRouteConfig({ name: 'rc', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c' }, ...route }] }] });
  assert.throws(() => rc({ request_headers_to_add: [hvo(':path', '/x')] }), (e: unknown) =>
    e instanceof ConfigError && e.path === 'virtual_hosts[0].routes[0].request_headers_to_add[0].header.key' && /:-prefixed or host headers may not be modified/.test(e.message));
  assert.throws(() => rc({ request_headers_to_add: [hvo('Host', 'x')] }), /may not be modified/);
  assert.throws(() => rc({ request_headers_to_remove: [':authority'] }), (e: unknown) =>
    e instanceof ConfigError && e.path === 'virtual_hosts[0].routes[0].request_headers_to_remove[0]' && /may not be removed/.test(e.message));
  assert.throws(() => rc({ response_headers_to_remove: ['host'] }), /response_headers_to_remove\[0\]: :-prefixed or host headers may not be removed/);
  assert.throws(() => rc({ response_headers_to_add: [hvo('x', 'a\r\nb')] }), /response_headers_to_add\[0\]\.header\.value/);
  assert.throws(() => rc({ response_headers_to_add: [hvo('bad key', 'v')] }), /header\.key: invalid header name/);
  assert.throws(() => rc({ request_headers_to_add: [hvo('x', '%BOGUS%')] }), /request_headers_to_add\[0\]\.header\.value: Not supported field/);
});

test('raw_value bytes are used when value is empty', () => {
  const h = apply([{ header: { key: 'x', value: '', raw_value: Buffer.from('raw') } }], [], {});
  assert.deepEqual(h, { x: 'raw' });
  assert.throws(() => apply([{ header: { key: 'x', value: 'v', raw_value: Buffer.from('raw') } }], [], {}), /only one of value or raw_value/);
});

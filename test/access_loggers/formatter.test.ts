import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as os from 'node:os';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../../src/config/errors';
import { RF } from '../../src/common/response_flags';
import {
  compileFormat, compileJsonFormat, compileSubstitutionFormat, defaultFormatter, DEFAULT_FORMAT,
} from '../../src/access_loggers/formatter';
import type { StreamInfo } from '../../src/common/stream_info';
import { connection, streamInfo, START_MS } from './helpers';

const fmt = (f: string, info: StreamInfo) => compileFormat(f, 'test').format(info);

describe('default format', () => {
  test('matches Envoy DEFAULT_FORMAT text', () => {
    assert.equal(DEFAULT_FORMAT,
      '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% '
      + '%BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" '
      + '"%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"\n');
  });

  test('renders the example line of the Envoy docs', () => {
    const line = defaultFormatter().format(streamInfo());
    assert.equal(line, '[2016-04-15T20:17:00.310Z] "POST /api/v1/locations HTTP/2" 204 - 154 0 226 100 "10.0.35.28" '
      + '"nsq2http" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "locations" "10.0.2.1:80"\n');
  });

  test('missing values render as -', () => {
    const info = streamInfo();
    info.requestHeaders = { ':method': 'GET', ':path': '/' };
    info.responseHeaders = undefined;
    info.upstreamHost = undefined;
    info.protocol = '';
    info.responseCode = 0;
    info.setFlag(RF.NoRouteFound);
    assert.equal(defaultFormatter().format(info),
      '[2016-04-15T20:17:00.310Z] "GET / -" 0 NR 154 0 226 - "-" "-" "-" "-" "-"\n');
  });

  test('x-envoy-original-path wins over :path', () => {
    const info = streamInfo();
    info.requestHeaders!['x-envoy-original-path'] = '/orig';
    assert.equal(fmt('%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%', info), '/orig');
  });
});

describe('command operators', () => {
  test('START_TIME with strftime formats', () => {
    const info = streamInfo();
    assert.equal(fmt('%START_TIME%', info), '2016-04-15T20:17:00.310Z');
    assert.equal(fmt('%START_TIME(%s)%', info), String(Math.floor(START_MS / 1000)));
    assert.equal(fmt('%START_TIME(%s.%3f)%', info), '1460751420.310');
    assert.equal(fmt('%START_TIME(%s.%6f)%', info), '1460751420.310000');
    assert.equal(fmt('%START_TIME(%s.%9f)%', info), '1460751420.310000000');
    assert.equal(fmt('%START_TIME(%f)%', info), '310000000');
    assert.equal(fmt('%START_TIME(%*f)%', info), '31');
    assert.equal(fmt('%START_TIME(%Y/%m/%dT%H:%M:%S%z)%', info), '2016/04/15T20:17:00+0000');
    assert.equal(fmt('%START_TIME(%E6S|%E*S|%F %T|%a %b %e|%j|%%)%', info), '00.310000|00.31|2016-04-15 20:17:00|Fri Apr 15|106|%');
    // The second-level cache must not leak between different times.
    info.startTime = START_MS + 61_005;
    assert.equal(fmt('%START_TIME(%M:%S.%3f)%', info), '18:01.315');
  });

  test('START_TIME_LOCAL uses the local zone with an offset', () => {
    const out = fmt('%START_TIME_LOCAL%', streamInfo());
    assert.match(out, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.310[+-]\d{4}$/);
  });

  test('REQ / RESP / TRAILER with alternatives and truncation', () => {
    const info = streamInfo();
    info.responseTrailers = { 'grpc-status': '0', 'x-t': 'trailer-value' };
    info.requestHeaders!['x-multi'] = ['a', 'b'];
    assert.equal(fmt('%REQ(:METHOD)% %REQ(user-agent):3% %REQ(X-MISSING?USER-AGENT)% %REQ(X-MISSING)%', info),
      'POST nsq nsq2http -');
    assert.equal(fmt('%REQ(X-MULTI)%', info), 'a');
    assert.equal(fmt('%RESP(:STATUS)% %RESP(X-NOPE?X-ENVOY-UPSTREAM-SERVICE-TIME):1%', info), '204 1');
    assert.equal(fmt('%TRAILER(GRPC-STATUS)% %TRAILER(X-T):7% %TRAILER(X-NO)%', info), '0 trailer -');
    // explicit header maps override the StreamInfo's
    const f = compileFormat('%REQ(A)%|%RESP(B)%|%TRAILER(C)%', 't');
    assert.equal(f.format(info, { a: '1' }, { b: '2' }, { c: '3' }), '1|2|3');
  });

  test('empty header value renders empty, not -', () => {
    const info = streamInfo();
    info.requestHeaders!['x-empty'] = '';
    assert.equal(fmt('[%REQ(X-EMPTY)%]', info), '[]');
  });

  test('response code, details, flags', () => {
    const info = streamInfo();
    info.responseCodeDetails = 'via upstream';
    info.connectionTerminationDetails = 'idle';
    assert.equal(fmt('%RESPONSE_CODE% %RESPONSE_CODE_DETAILS% %RESPONSE_CODE_DETAILS(ALLOW_WHITESPACES)%', info),
      '204 via_upstream via upstream');
    assert.equal(fmt('%CONNECTION_TERMINATION_DETAILS%', info), 'idle');
    assert.equal(fmt('%RESPONSE_FLAGS% %RESPONSE_FLAGS_LONG%', info), '- -');
    info.setFlag(RF.UpstreamConnectionFailure);
    info.setFlag(RF.NoHealthyUpstream);
    info.setFlag(RF.UpstreamRetryLimitExceeded);
    assert.equal(fmt('%RESPONSE_FLAGS%', info), 'UH,UF,URX');
    assert.equal(fmt('%RESPONSE_FLAGS_LONG%', info),
      'NoHealthyUpstream,UpstreamConnectionFailure,UpstreamRetryLimitExceeded');
    const fresh = streamInfo();
    fresh.responseCodeDetails = '';
    fresh.connectionTerminationDetails = '';
    assert.equal(fmt('%RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS%', fresh), '- -');
  });

  test('byte counters', () => {
    const info = streamInfo();
    info.bytesSent = 77;
    info.upstreamBytesSent = 300;
    info.upstreamBytesReceived = 400;
    assert.equal(fmt('%BYTES_RECEIVED% %BYTES_SENT% %UPSTREAM_WIRE_BYTES_SENT% %UPSTREAM_WIRE_BYTES_RECEIVED%', info),
      '154 77 300 400');
  });

  test('durations (ms, truncated) and missing timings', () => {
    const info = streamInfo();
    assert.equal(fmt('%DURATION% %REQUEST_DURATION% %REQUEST_TX_DURATION% %RESPONSE_DURATION% %RESPONSE_TX_DURATION%', info),
      '226 - - - -');
    info.firstUpstreamRxNs = 120_900_000;
    info.lastDownstreamTxNs = 225_000_000;
    Object.assign(info, { lastDownstreamRxNs: 10_500_000, lastUpstreamTxNs: 12_999_999 });
    assert.equal(fmt('%REQUEST_DURATION% %REQUEST_TX_DURATION% %RESPONSE_DURATION% %RESPONSE_TX_DURATION%', info),
      '10 12 120 104');
    // DURATION of an unfinished stream is the current duration (Envoy currentDuration()).
    const live = streamInfo();
    live.endNs = -1;
    assert.match(fmt('%DURATION%', live), /^\d+$/);
  });

  test('upstream facts', () => {
    const info = streamInfo();
    info.upstreamLocalAddress = '10.0.0.2:40000';
    info.upstreamTransportFailureReason = 'TLS error: handshake failed';
    info.attemptCount = 2;
    info.upstreamHost = { address: '10.0.2.1:80', hostname: 'svc.local' };
    Object.assign(info, { upstreamProtocol: 'HTTP/1.1' });
    assert.equal(fmt('%UPSTREAM_HOST% %UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS% %UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT% '
      + '%UPSTREAM_LOCAL_PORT% %UPSTREAM_REMOTE_ADDRESS% %UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% %UPSTREAM_REMOTE_PORT%', info),
    '10.0.2.1:80 locations 10.0.0.2:40000 10.0.0.2 40000 10.0.2.1:80 10.0.2.1 80');
    assert.equal(fmt('%UPSTREAM_TRANSPORT_FAILURE_REASON%', info), 'TLS_error:_handshake_failed');
    assert.equal(fmt('%UPSTREAM_REQUEST_ATTEMPT_COUNT% %UPSTREAM_PROTOCOL%', info), '2 HTTP/1.1');
    assert.equal(fmt('%UPSTREAM_HOST_NAME% %UPSTREAM_HOST_NAME_WITHOUT_PORT%', info), 'svc.local svc.local');
    info.upstreamHost = { address: '[fd00::1]:8443' };
    assert.equal(fmt('%UPSTREAM_HOST% %UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% %UPSTREAM_REMOTE_PORT%', info),
      '[fd00::1]:8443 fd00::1 8443');
    const none = streamInfo();
    none.upstreamHost = undefined;
    none.upstreamCluster = '';
    assert.equal(fmt('%UPSTREAM_HOST% %UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS% %UPSTREAM_TRANSPORT_FAILURE_REASON% '
      + '%UPSTREAM_PROTOCOL% %UPSTREAM_REMOTE_PORT% %UPSTREAM_REQUEST_ATTEMPT_COUNT%', none), '- - - - - - 0');
  });

  test('downstream addresses', () => {
    const info = streamInfo();
    assert.equal(fmt('%DOWNSTREAM_REMOTE_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% %DOWNSTREAM_REMOTE_PORT%', info),
      '10.0.0.1:51000 10.0.0.1 51000');
    assert.equal(fmt('%DOWNSTREAM_DIRECT_REMOTE_ADDRESS% %DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT% '
      + '%DOWNSTREAM_DIRECT_REMOTE_PORT%', info), '10.0.0.9:52000 10.0.0.9 52000');
    assert.equal(fmt('%DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT% %DOWNSTREAM_LOCAL_PORT%', info),
      '10.0.0.2:8080 10.0.0.2 8080');
    const v6 = streamInfo(connection({ remoteAddress: '::1', remotePort: 9, localAddress: '', localPort: 0 }));
    assert.equal(fmt('%DOWNSTREAM_REMOTE_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% %DOWNSTREAM_LOCAL_ADDRESS% '
      + '%DOWNSTREAM_LOCAL_PORT%', v6), '[::1]:9 ::1 - -');
  });

  test('connection facts, names, ids', () => {
    const info = streamInfo(connection({ sni: 'api.example.com', filterChainName: 'fc1' }));
    info.routeName = 'r1';
    info.virtualClusterName = 'vc1';
    info.requestId = 'cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2';
    assert.equal(fmt('%CONNECTION_ID% %REQUESTED_SERVER_NAME% %ROUTE_NAME% %VIRTUAL_CLUSTER_NAME% %FILTER_CHAIN_NAME% '
      + '%STREAM_ID% %PROTOCOL%', info), '42 api.example.com r1 vc1 fc1 cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2 HTTP/2');
    assert.equal(fmt('%HOSTNAME%', info), os.hostname());
    assert.match(fmt('%UNIQUE_ID%', info), /^[0-9a-f-]{36}$/);
    const bad = streamInfo(connection({ sni: 'a b\n' }));
    assert.equal(fmt('%REQUESTED_SERVER_NAME%', bad), 'invalid:a_b_');
    const empty = streamInfo();
    assert.equal(fmt('%REQUESTED_SERVER_NAME% %ROUTE_NAME% %VIRTUAL_CLUSTER_NAME% %FILTER_CHAIN_NAME% %STREAM_ID%', empty),
      '- - - - -');
  });

  test('LOCAL_REPLY_BODY', () => {
    const info = streamInfo();
    assert.equal(fmt('%LOCAL_REPLY_BODY%', info), '-');
    Object.assign(info, { localReplyBody: 'no healthy upstream' });
    assert.equal(fmt('%LOCAL_REPLY_BODY%', info), 'no healthy upstream');
  });

  test('TLS operators: - when not TLS', () => {
    const plain = streamInfo();
    assert.equal(fmt('%DOWNSTREAM_TLS_VERSION% %DOWNSTREAM_PEER_URI_SAN% %DOWNSTREAM_LOCAL_URI_SAN% %DOWNSTREAM_TLS_CIPHER%',
      plain), '- - - -');
    const tls = streamInfo(connection({
      tls: true,
      transportProtocol: 'tls',
      peerUriSans: ['spiffe://cluster.local/ns/default/sa/a', 'spiffe://x/y'],
    }));
    Object.assign(tls.connection, {
      tlsVersion: 'TLSv1.3', tlsCipher: 'TLS_AES_128_GCM_SHA256', localUriSans: ['spiffe://cluster.local/ns/default/sa/b'],
      peerSubject: 'CN=a', localSubject: 'CN=b', peerIssuer: 'CN=ca', tlsSessionId: 'abcd', peerFingerprint256: 'ff',
      peerSerial: '01', peerDnsSans: ['a.example'],
    });
    assert.equal(fmt('%DOWNSTREAM_TLS_VERSION% %DOWNSTREAM_TLS_CIPHER% %DOWNSTREAM_PEER_URI_SAN% %DOWNSTREAM_LOCAL_URI_SAN%',
      tls), 'TLSv1.3 TLS_AES_128_GCM_SHA256 spiffe://cluster.local/ns/default/sa/a,spiffe://x/y '
      + 'spiffe://cluster.local/ns/default/sa/b');
    assert.equal(fmt('%DOWNSTREAM_PEER_SUBJECT%|%DOWNSTREAM_LOCAL_SUBJECT%|%DOWNSTREAM_PEER_ISSUER%|'
      + '%DOWNSTREAM_TLS_SESSION_ID%|%DOWNSTREAM_PEER_FINGERPRINT_256%|%DOWNSTREAM_PEER_SERIAL%|%DOWNSTREAM_PEER_DNS_SAN%',
    tls), 'CN=a|CN=b|CN=ca|abcd|ff|01|a.example');
  });

  test('DYNAMIC_METADATA', () => {
    const info = streamInfo();
    info.dynamicMetadata = {
      'com.test.my_filter': { test_key: 'foo', test_object: { inner_key: 'bar' }, n: 5, b: true },
    };
    assert.equal(fmt('%DYNAMIC_METADATA(com.test.my_filter)%', info),
      '{"test_key":"foo","test_object":{"inner_key":"bar"},"n":5,"b":true}');
    assert.equal(fmt('%DYNAMIC_METADATA(com.test.my_filter:test_key)%', info), 'foo');
    assert.equal(fmt('%DYNAMIC_METADATA(com.test.my_filter:test_object)%', info), '{"inner_key":"bar"}');
    assert.equal(fmt('%DYNAMIC_METADATA(com.test.my_filter:test_object:inner_key)%', info), 'bar');
    assert.equal(fmt('%DYNAMIC_METADATA(com.test.my_filter:n)% %DYNAMIC_METADATA(com.test.my_filter:b)%', info), '5 true');
    assert.equal(fmt('%DYNAMIC_METADATA(com.unknown_filter)%', info), '-');
    assert.equal(fmt('%DYNAMIC_METADATA(com.test.my_filter:unknown_key)%', info), '-');
    assert.equal(fmt('%DYNAMIC_METADATA(com.test.my_filter:test_key:deeper)%', info), '-');
    assert.equal(fmt('%DYNAMIC_METADATA(com.test.my_filter):25%', info), '{"test_key":"foo","test_o');
  });

  test('FILTER_STATE PLAIN / TYPED / FIELD', () => {
    const info = streamInfo();
    info.filterState = new Map<string, unknown>([
      ['envoy.filters.listener.original_dst.local_ip', '10.1.2.3'],
      ['obj', { a: 1, name: 'x' }],
      ['custom', { serializeAsString: () => 'plain-form', serializeAsJson: () => ({ typed: true }) }],
    ]);
    assert.equal(fmt('%FILTER_STATE(envoy.filters.listener.original_dst.local_ip:PLAIN)%', info), '10.1.2.3');
    assert.equal(fmt('%FILTER_STATE(envoy.filters.listener.original_dst.local_ip)%', info), '"10.1.2.3"');
    assert.equal(fmt('%FILTER_STATE(envoy.filters.listener.original_dst.local_ip:TYPED)%', info), '"10.1.2.3"');
    assert.equal(fmt('%FILTER_STATE(envoy.filters.listener.original_dst.local_ip:PLAIN):4%', info), '10.1');
    assert.equal(fmt('%FILTER_STATE(obj)%', info), '{"a":1,"name":"x"}');
    assert.equal(fmt('%FILTER_STATE(obj:FIELD:name)% %FILTER_STATE(obj:FIELD:a)% %FILTER_STATE(obj:FIELD:zz)%', info),
      'x 1 -');
    assert.equal(fmt('%FILTER_STATE(custom:PLAIN)% %FILTER_STATE(custom)%', info), 'plain-form {"typed":true}');
    assert.equal(fmt('%FILTER_STATE(missing:PLAIN)%', info), '-');
    // connection-level filter state is consulted too
    Object.assign(info.connection, { filterState: new Map([['conn.key', 'c']]) });
    assert.equal(fmt('%FILTER_STATE(conn.key:PLAIN)%', info), 'c');
  });

  test('ENVIRONMENT is read at config time, with truncation', () => {
    process.env.REMORA_AL_TEST = 'abcdef';
    const f = compileFormat('%ENVIRONMENT(REMORA_AL_TEST)% %ENVIRONMENT(REMORA_AL_TEST):3% %ENVIRONMENT(REMORA_AL_NOPE)%', 't');
    process.env.REMORA_AL_TEST = 'changed';
    assert.equal(f.format(streamInfo()), 'abcdef abc -');
    delete process.env.REMORA_AL_TEST;
  });

  test('GRPC_STATUS only for gRPC requests', () => {
    const info = streamInfo();
    info.responseCode = 200;
    assert.equal(fmt('%GRPC_STATUS%', info), '-');
    info.requestHeaders!['content-type'] = 'application/grpc';
    info.responseTrailers = { 'grpc-status': '3' };
    assert.equal(fmt('%GRPC_STATUS% %GRPC_STATUS(CAMEL_STRING)% %GRPC_STATUS(SNAKE_STRING)% %GRPC_STATUS(NUMBER)% '
      + '%GRPC_STATUS_NUMBER%', info), 'InvalidArgument InvalidArgument INVALID_ARGUMENT 3 3');
    info.responseTrailers = undefined;
    info.responseHeaders = { ':status': '200', 'grpc-status': '1' };
    assert.equal(fmt('%GRPC_STATUS% %GRPC_STATUS(SNAKE_STRING)%', info), 'Canceled CANCELLED');
    info.responseHeaders = { ':status': '503' };
    info.responseCode = 503;
    assert.equal(fmt('%GRPC_STATUS%', info), 'Unavailable');
  });

  test('%% is a literal percent; text around commands is kept', () => {
    assert.equal(fmt('100%% of %PROTOCOL%%%', streamInfo()), '100% of HTTP/2%');
  });

  test('omitEmptyValues renders missing values as empty', () => {
    const f = compileFormat('[%ROUTE_NAME%][%REQ(X-NOPE)%]', 't', { omitEmptyValues: true });
    assert.equal(f.format(streamInfo()), '[][]');
  });
});

describe('format errors', () => {
  const bad = (f: string, re: RegExp) => {
    assert.throws(() => compileFormat(f, 'listeners[0].access_log[0].typed_config.log_format.text_format'), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.path, 'listeners[0].access_log[0].typed_config.log_format.text_format');
      assert.match(e.message, re);
      return true;
    });
  };
  test('unknown command is rejected, naming it', () => bad('x %NOT_A_COMMAND% y', /NOT_A_COMMAND/));
  test('unknown command with params', () => bad('%BOGUS(abc)%', /BOGUS/));
  test('dangling percent', () => bad('50% off', /position 2/));
  test('unterminated command', () => bad('%REQ(:PATH)', /position 0/));
  test('command without required params', () => bad('%REQ%', /requires parameters/));
  test('params on a command that takes none', () => bad('%PROTOCOL(x)%', /does not take any parameters/));
  test('length on a command that does not allow it', () => bad('%PROTOCOL:3%', /does not take any parameters or length/));
  test('length on START_TIME rejected', () => bad('%START_TIME(%s):3%', /does not allow length/));
  test('two alternative headers', () => bad('%REQ(A?B?C)%', /alternative/));
  test('invalid header name', () => bad('%REQ(a b)%', /invalid header name/));
  test('bad FILTER_STATE serialization', () => bad('%FILTER_STATE(k:JSON)%', /PLAIN\/TYPED\/FIELD/));
  test('FIELD without a field name', () => bad('%FILTER_STATE(k:FIELD)%', /FIELD/));
  test('bad GRPC_STATUS format', () => bad('%GRPC_STATUS(WORDS)%', /CAMEL_STRING/));
  test('bad RESPONSE_CODE_DETAILS param', () => bad('%RESPONSE_CODE_DETAILS(X)%', /ALLOW_WHITESPACES/));
  test('lowercase command names are not commands', () => bad('%protocol%', /position 0/));
});

describe('json_format', () => {
  test('typed output: numbers stay numbers, missing is null, nesting and lists', () => {
    const info = streamInfo();
    info.dynamicMetadata = { ns: { obj: { k: 'v' }, num: 7 } };
    const f = compileJsonFormat({
      protocol: '%PROTOCOL%',
      duration: '%DURATION%',
      code: '%RESPONSE_CODE%',
      bytes: { in: '%BYTES_RECEIVED%', out: '%BYTES_SENT%' },
      list: ['%UPSTREAM_HOST%', '%DOWNSTREAM_LOCAL_PORT%', 'const'],
      route: '%ROUTE_NAME%',
      mixed: '%DURATION%.0',
      flags: '%RESPONSE_FLAGS%',
      start: '%START_TIME%',
      md: '%DYNAMIC_METADATA(ns:obj)%',
      mdnum: '%DYNAMIC_METADATA(ns:num)%',
      literal_num: 1.5,
      literal_bool: false,
      missing_header: '%REQ(X-NONE)%',
      empty: '',
    }, 'p');
    const line = f.format(info);
    assert.ok(line.endsWith('}\n'));
    assert.equal(line, '{"protocol":"HTTP/2","duration":226,"code":204,"bytes":{"in":154,"out":0},'
      + '"list":["10.0.2.1:80",8080,"const"],"route":null,"mixed":"226.0","flags":"-",'
      + '"start":"2016-04-15T20:17:00.310Z","md":{"k":"v"},"mdnum":7,"literal_num":1.5,"literal_bool":false,'
      + '"missing_header":null,"empty":""}\n');
    assert.deepEqual(JSON.parse(line).bytes, { in: 154, out: 0 });
    assert.equal(f.contentType, 'application/json');
  });

  test('JSON string escaping of header values', () => {
    const info = streamInfo();
    info.requestHeaders!['user-agent'] = 'evil "agent"\\\n';
    const line = compileJsonFormat({ ua: '%REQ(USER-AGENT)%' }, 'p').format(info);
    assert.deepEqual(JSON.parse(line), { ua: 'evil "agent"\\\n' });
  });

  test('omit_empty_values drops null fields, keeps empty strings in multi-part values', () => {
    const f = compileSubstitutionFormat({
      json_format: { a: '%ROUTE_NAME%', b: '%PROTOCOL%', c: 'x%ROUTE_NAME%y', d: { e: '%REQ(X-NONE)%' }, l: ['%ROUTE_NAME%', 1] },
      omit_empty_values: true,
    }, 'p');
    assert.equal(f.format(streamInfo()), '{"b":"HTTP/2","c":"xy","d":{},"l":[1]}\n');
  });

  test('sort_properties', () => {
    const f = compileSubstitutionFormat({ json_format: { z: '%PROTOCOL%', a: 'x', m: { y: '1', b: '2' } },
      json_format_options: { sort_properties: true } }, 'p');
    assert.equal(f.format(streamInfo()), '{"a":"x","m":{"b":"2","y":"1"},"z":"HTTP/2"}\n');
  });

  test('untyped (deprecated FileAccessLog.json_format): strings, missing "-"', () => {
    const f = compileJsonFormat({ d: '%DURATION%', r: '%ROUTE_NAME%' }, 'p', { typed: false });
    assert.equal(f.format(streamInfo()), '{"d":"226","r":"-"}\n');
  });

  test('unknown command inside json_format names the key path', () => {
    assert.throws(() => compileJsonFormat({ a: { b: '%NOPE%' } }, 'x.json_format'), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.path, 'x.json_format.a.b');
      assert.match(e.message, /NOPE/);
      return true;
    });
  });
});

describe('SubstitutionFormatString', () => {
  test('text_format, text_format_source inline_string / inline_bytes / filename / environment_variable', () => {
    const info = streamInfo();
    assert.equal(compileSubstitutionFormat({ text_format: '%PROTOCOL%\n' }, 'p').format(info), 'HTTP/2\n');
    assert.equal(compileSubstitutionFormat({ text_format_source: { inline_string: '%RESPONSE_CODE%' } }, 'p').format(info), '204');
    assert.equal(compileSubstitutionFormat({ text_format_source: { inline_bytes: Buffer.from('b%BYTES_RECEIVED%') } }, 'p')
      .format(info), 'b154');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'remora-fmt-'));
    const file = path.join(dir, 'fmt.txt');
    fs.writeFileSync(file, 'f:%ROUTE_NAME%');
    assert.equal(compileSubstitutionFormat({ text_format_source: { filename: file } }, 'p').format(info), 'f:-');
    fs.rmSync(dir, { recursive: true, force: true });
    process.env.REMORA_AL_FMT = 'e:%PROTOCOL%';
    assert.equal(compileSubstitutionFormat({ text_format_source: { environment_variable: 'REMORA_AL_FMT' } }, 'p')
      .format(info), 'e:HTTP/2');
    delete process.env.REMORA_AL_FMT;
  });

  test('omit_empty_values and content_type in text mode', () => {
    const f = compileSubstitutionFormat({ text_format: '[%ROUTE_NAME%]', omit_empty_values: true,
      content_type: 'text/html; charset=UTF-8' }, 'p');
    assert.equal(f.format(streamInfo()), '[]');
    assert.equal(f.contentType, 'text/html; charset=UTF-8');
    assert.equal(compileSubstitutionFormat({ text_format: 'x' }, 'p').contentType, 'text/plain');
  });

  test('formatters extensions are rejected', () => {
    assert.throws(() => compileSubstitutionFormat({ text_format: 'x', formatters: [{ name: 'envoy.formatter.req_without_query',
      typed_config: { '@type': 'type.googleapis.com/envoy.extensions.formatter.req_without_query.v3.ReqWithoutQuery' } }] }, 'a.log_format'),
    (e: unknown) => e instanceof ConfigError && e.path === 'a.log_format.formatters[0]' && /req_without_query/.test(e.message));
  });

  test('no format set is an error; missing file is an error', () => {
    assert.throws(() => compileSubstitutionFormat({ omit_empty_values: true }, 'p'), ConfigError);
    assert.throws(() => compileSubstitutionFormat({ text_format_source: { filename: '/nonexistent/remora/fmt' } }, 'p'),
      (e: unknown) => e instanceof ConfigError && e.path === 'p.text_format_source.filename');
  });
});

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/config/errors';
import { RF } from '../../src/common/response_flags';
import { compileAccessLogFilter, HeaderMatcher } from '../../src/access_loggers/filter';
import type { StreamInfo } from '../../src/common/stream_info';
import { streamInfo } from './helpers';

const P = 'access_log[0].filter';
const ev = (cfg: unknown, info: StreamInfo, runtime?: { getNumber(k: string, d: number): number }) =>
  compileAccessLogFilter(cfg, P, runtime).evaluate(info, info.requestHeaders, info.responseHeaders, info.responseTrailers);

const cmp = (op: string, v: number) => ({ comparison: { op, value: { default_value: v, runtime_key: 'k' } } });

describe('status_code_filter', () => {
  test('EQ / GE / LE / NE', () => {
    const info = streamInfo(); // 204
    assert.equal(ev({ status_code_filter: cmp('EQ', 204) }, info), true);
    assert.equal(ev({ status_code_filter: cmp('EQ', 200) }, info), false);
    assert.equal(ev({ status_code_filter: cmp('GE', 400) }, info), false);
    assert.equal(ev({ status_code_filter: cmp('LE', 204) }, info), true);
    assert.equal(ev({ status_code_filter: cmp('NE', 204) }, info), false);
    info.responseCode = 503;
    assert.equal(ev({ status_code_filter: cmp('GE', 500) }, info), true);
  });
  test('runtime override of the comparison value', () => {
    const info = streamInfo();
    const rt = { getNumber: (k: string, d: number) => (k === 'k' ? 204 : d) };
    assert.equal(ev({ status_code_filter: cmp('EQ', 500) }, info, rt), true);
  });
  test('missing comparison is a config error', () => {
    assert.throws(() => compileAccessLogFilter({ status_code_filter: {} }, P),
      (e: unknown) => e instanceof ConfigError && e.path === `${P}.status_code_filter.comparison`);
  });
});

describe('duration_filter', () => {
  test('compares whole milliseconds', () => {
    const info = streamInfo(); // 226.4 ms
    assert.equal(ev({ duration_filter: cmp('GE', 226) }, info), true);
    assert.equal(ev({ duration_filter: cmp('GE', 227) }, info), false);
    assert.equal(ev({ duration_filter: cmp('EQ', 226) }, info), true);
  });
});

describe('health check / traceable', () => {
  test('not_health_check_filter', () => {
    const info = streamInfo();
    assert.equal(ev({ not_health_check_filter: {} }, info), true);
    Object.assign(info, { healthCheck: true });
    assert.equal(ev({ not_health_check_filter: {} }, info), false);
  });
  test('traceable_filter', () => {
    const info = streamInfo();
    assert.equal(ev({ traceable_filter: {} }, info), false);
    Object.assign(info, { traced: true });
    assert.equal(ev({ traceable_filter: {} }, info), true);
  });
});

describe('runtime_filter', () => {
  test('uses the x-request-id for a stable decision', () => {
    const info = streamInfo();
    // first 8 hex chars 0x00000032 = 50 -> 50 % 100 = 50
    info.requestHeaders!['x-request-id'] = '00000032-0000-4000-8000-000000000000';
    const f = (n: number) => ({ runtime_filter: { runtime_key: 'access_log.sample', percent_sampled: { numerator: n, denominator: 'HUNDRED' } } });
    assert.equal(ev(f(51), info), true);
    assert.equal(ev(f(50), info), false);
    assert.equal(ev(f(0), info), false);
    assert.equal(ev(f(100), info), true);
  });
  test('default percentage is 0; independent randomness respects 0 and 100', () => {
    const info = streamInfo();
    assert.equal(ev({ runtime_filter: { runtime_key: 'k' } }, info), false);
    for (let i = 0; i < 20; i++) {
      assert.equal(ev({ runtime_filter: { runtime_key: 'k', use_independent_randomness: true,
        percent_sampled: { numerator: 100, denominator: 'HUNDRED' } } }, info), true);
    }
  });
  test('TEN_THOUSAND denominator', () => {
    const info = streamInfo();
    info.requestHeaders!['x-request-id'] = '00002710-0000'; // 10000 % 10000 = 0
    assert.equal(ev({ runtime_filter: { runtime_key: 'k', percent_sampled: { numerator: 1, denominator: 'TEN_THOUSAND' } } }, info), true);
  });
});

describe('and / or', () => {
  test('combine', () => {
    const info = streamInfo();
    const yes = { status_code_filter: cmp('EQ', 204) };
    const no = { status_code_filter: cmp('EQ', 500) };
    assert.equal(ev({ and_filter: { filters: [yes, yes] } }, info), true);
    assert.equal(ev({ and_filter: { filters: [yes, no] } }, info), false);
    assert.equal(ev({ or_filter: { filters: [no, yes] } }, info), true);
    assert.equal(ev({ or_filter: { filters: [no, no] } }, info), false);
    assert.equal(ev({ and_filter: { filters: [yes, { or_filter: { filters: [no, yes] } }] } }, info), true);
  });
  test('need at least two filters; nested errors carry the path', () => {
    assert.throws(() => compileAccessLogFilter({ and_filter: { filters: [{ traceable_filter: {} }] } }, P),
      (e: unknown) => e instanceof ConfigError && e.path === `${P}.and_filter.filters`);
    assert.throws(() => compileAccessLogFilter({ or_filter: { filters: [{ traceable_filter: {} }, { bogus_filter: {} }] } }, P),
      (e: unknown) => e instanceof ConfigError && e.path === `${P}.or_filter.filters[1]` && /bogus_filter/.test(e.message));
  });
});

describe('header_filter', () => {
  const hf = (header: unknown) => ({ header_filter: { header } });
  test('present / exact / prefix / suffix / contains / regex / range / invert', () => {
    const info = streamInfo();
    info.requestHeaders!['x-num'] = '42';
    assert.equal(ev(hf({ name: 'User-Agent' }), info), true);
    assert.equal(ev(hf({ name: 'x-absent' }), info), false);
    assert.equal(ev(hf({ name: 'x-absent', present_match: false }), info), true);
    assert.equal(ev(hf({ name: 'x-absent', present_match: true, invert_match: true }), info), true);
    assert.equal(ev(hf({ name: 'user-agent', exact_match: 'nsq2http' }), info), true);
    assert.equal(ev(hf({ name: 'user-agent', exact_match: 'curl' }), info), false);
    assert.equal(ev(hf({ name: 'user-agent', prefix_match: 'nsq' }), info), true);
    assert.equal(ev(hf({ name: 'user-agent', suffix_match: 'http' }), info), true);
    assert.equal(ev(hf({ name: 'user-agent', contains_match: '2h' }), info), true);
    assert.equal(ev(hf({ name: 'user-agent', safe_regex_match: { regex: 'nsq[0-9]http' } }), info), true);
    assert.equal(ev(hf({ name: 'user-agent', safe_regex_match: { regex: 'nsq' } }), info), false); // full match
    assert.equal(ev(hf({ name: 'x-num', range_match: { start: 40, end: 43 } }), info), true);
    assert.equal(ev(hf({ name: 'x-num', range_match: { start: 43, end: 50 } }), info), false);
    assert.equal(ev(hf({ name: 'user-agent', range_match: { start: 0, end: 50 } }), info), false);
    assert.equal(ev(hf({ name: 'user-agent', exact_match: 'nsq2http', invert_match: true }), info), false);
    assert.equal(ev(hf({ name: 'user-agent', string_match: { exact: 'NSQ2HTTP', ignore_case: true } }), info), true);
    assert.equal(ev(hf({ name: 'user-agent', string_match: { prefix: 'NSQ' } }), info), false);
    assert.equal(ev(hf({ name: 'x-absent', string_match: { exact: '' }, treat_missing_header_as_empty: true }), info), true);
  });
  test('multi-valued headers are joined with ","', () => {
    const m = new HeaderMatcher({ name: 'x-m', exact_match: 'a,b' }, 'h');
    assert.equal(m.matches({ 'x-m': ['a', 'b'] }), true);
  });
  test('bad regex is a config error', () => {
    assert.throws(() => compileAccessLogFilter(hf({ name: 'a', safe_regex_match: { regex: '(' } }), P),
      (e: unknown) => e instanceof ConfigError && e.path === `${P}.header_filter.header.safe_regex_match.regex`);
  });
});

describe('response_flag_filter', () => {
  test('listed flags / any flag', () => {
    const info = streamInfo();
    assert.equal(ev({ response_flag_filter: {} }, info), false);
    assert.equal(ev({ response_flag_filter: { flags: ['UH', 'UF'] } }, info), false);
    info.setFlag(RF.UpstreamConnectionFailure);
    assert.equal(ev({ response_flag_filter: {} }, info), true);
    assert.equal(ev({ response_flag_filter: { flags: ['UH', 'UF'] } }, info), true);
    assert.equal(ev({ response_flag_filter: { flags: ['NR'] } }, info), false);
  });
  test('unknown flag is a config error', () => {
    assert.throws(() => compileAccessLogFilter({ response_flag_filter: { flags: ['UF', 'XX'] } }, P),
      (e: unknown) => e instanceof ConfigError && e.path === `${P}.response_flag_filter.flags[1]`);
  });
});

describe('grpc_status_filter', () => {
  test('trailers, headers, inferred from HTTP status; exclude', () => {
    const info = streamInfo();
    info.responseTrailers = { 'grpc-status': '14' };
    assert.equal(ev({ grpc_status_filter: { statuses: ['UNAVAILABLE'] } }, info), true);
    assert.equal(ev({ grpc_status_filter: { statuses: ['OK'] } }, info), false);
    assert.equal(ev({ grpc_status_filter: { statuses: ['UNAVAILABLE'], exclude: true } }, info), false);
    info.responseTrailers = undefined;
    info.responseHeaders = { ':status': '200', 'grpc-status': '0' };
    assert.equal(ev({ grpc_status_filter: { statuses: ['OK'] } }, info), true);
    info.responseHeaders = { ':status': '404' };
    info.responseCode = 404;
    assert.equal(ev({ grpc_status_filter: { statuses: ['UNIMPLEMENTED'] } }, info), true);
    info.responseCode = 0;
    assert.equal(ev({ grpc_status_filter: { statuses: ['UNKNOWN'] } }, info), true);
    info.responseHeaders = { 'grpc-status': '99' }; // user-defined codes are InvalidCode here
    assert.equal(ev({ grpc_status_filter: { statuses: ['UNKNOWN'] } }, info), false);
    assert.equal(ev({ grpc_status_filter: { statuses: ['UNKNOWN'], exclude: true } }, info), true);
  });
  test('unknown status is a config error', () => {
    assert.throws(() => compileAccessLogFilter({ grpc_status_filter: { statuses: ['NOPE'] } }, P),
      (e: unknown) => e instanceof ConfigError && e.path === `${P}.grpc_status_filter.statuses[0]`);
  });
});

describe('unsupported filters', () => {
  for (const k of ['extension_filter', 'metadata_filter', 'log_type_filter']) {
    test(k, () => {
      assert.throws(() => compileAccessLogFilter({ [k]: {} }, P),
        (e: unknown) => e instanceof ConfigError && e.path === `${P}.${k}`);
    });
  }
  test('empty filter', () => {
    assert.throws(() => compileAccessLogFilter({}, P), (e: unknown) => e instanceof ConfigError && e.path === P);
  });
});

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { ConfigError } from '../../src/config/errors';
import { lookup, type ExtensionFactory } from '../../src/common/registry';
import {
  createAccessLogs, flushAllAccessLogs, configureAccessLogFlush, reopenAccessLogs, accessLogFile, type AccessLog,
} from '../../src/access_loggers';
import { streamInfo } from './helpers';

const FILE_TYPE = 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog';
let dir = '';

before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'remora-al-')); });
after(async () => {
  await flushAllAccessLogs();
  configureAccessLogFlush({ intervalMs: 1000, minFlushBytes: 64 * 1024 });
  fs.rmSync(dir, { recursive: true, force: true });
});

const read = (p: string) => (fs.existsSync(p) ? fs.readFileSync(p, 'utf8') : '');

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function fileLog(file: string, extra: Record<string, unknown> = {}, filter?: unknown): AccessLog[] {
  return createAccessLogs([{ name: 'envoy.access_loggers.file', typed_config: { '@type': FILE_TYPE, path: file, ...extra },
    ...(filter ? { filter } : {}) }], 'listeners[0].filter_chains[0].filters[0].typed_config.access_log');
}

describe('registry', () => {
  test('file, stdout and stderr loggers are registered by type URL and name', () => {
    for (const k of [FILE_TYPE, 'envoy.access_loggers.file', 'envoy.access_loggers.stdout', 'envoy.access_loggers.stderr',
      'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog',
      'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StderrAccessLog']) {
      assert.ok(lookup<ExtensionFactory>('access_logger', k), k);
    }
  });
});

describe('file access log', () => {
  test('default format; buffered (nothing written synchronously), written on flush', async () => {
    const file = path.join(dir, 'default.log');
    const [log] = fileLog(file);
    assert.ok(fs.existsSync(file), 'file opened (created) at config time');
    log.log(streamInfo());
    assert.equal(read(file), '', 'no synchronous write per request');
    await flushAllAccessLogs();
    assert.equal(read(file), '[2016-04-15T20:17:00.310Z] "POST /api/v1/locations HTTP/2" 204 - 154 0 226 100 '
      + '"10.0.35.28" "nsq2http" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "locations" "10.0.2.1:80"\n');
  });

  test('periodic flush without an explicit flush call', async () => {
    configureAccessLogFlush({ intervalMs: 30 });
    const file = path.join(dir, 'timer.log');
    const [log] = fileLog(file, { log_format: { text_format_source: { inline_string: '%RESPONSE_CODE%\n' } } });
    log.log(streamInfo());
    await waitFor(() => read(file) === '204\n');
    configureAccessLogFlush({ intervalMs: 1000 });
  });

  test('flush on size', async () => {
    configureAccessLogFlush({ intervalMs: 60_000, minFlushBytes: 100 });
    const file = path.join(dir, 'size.log');
    const [log] = fileLog(file, { log_format: { text_format: '%REQ(USER-AGENT)% %REQ(X-REQUEST-ID)%\n' } });
    for (let i = 0; i < 3; i++) log.log(streamInfo()); // ~141 bytes > 100
    await waitFor(() => read(file).length > 0);
    configureAccessLogFlush({ minFlushBytes: 64 * 1024, intervalMs: 1000 });
  });

  test('many lines arrive complete and in order', async () => {
    const file = path.join(dir, 'many.log');
    const [log] = fileLog(file, { log_format: { text_format: '%REQ(X-SEQ)%\n' } });
    const info = streamInfo();
    const n = 5000;
    for (let i = 0; i < n; i++) log.log(info, { 'x-seq': String(i) });
    await flushAllAccessLogs();
    const lines = read(file).split('\n');
    assert.equal(lines.length, n + 1);
    for (let i = 0; i < n; i++) assert.equal(lines[i], String(i));
  });

  test('json log_format writes one JSON object per line', async () => {
    const file = path.join(dir, 'json.log');
    const [log] = fileLog(file, { log_format: { json_format: { code: '%RESPONSE_CODE%', method: '%REQ(:METHOD)%' } } });
    log.log(streamInfo());
    log.log(streamInfo());
    await flushAllAccessLogs();
    const lines = read(file).trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines, [{ code: 204, method: 'POST' }, { code: 204, method: 'POST' }]);
  });

  test('deprecated format / json_format / typed_json_format fields', async () => {
    const f1 = path.join(dir, 'dep1.log');
    const f2 = path.join(dir, 'dep2.log');
    const f3 = path.join(dir, 'dep3.log');
    const f4 = path.join(dir, 'dep4.log');
    fileLog(f1, { format: '%PROTOCOL%\n' })[0].log(streamInfo());
    fileLog(f2, { json_format: { d: '%DURATION%' } })[0].log(streamInfo());
    fileLog(f3, { typed_json_format: { d: '%DURATION%' } })[0].log(streamInfo());
    fileLog(f4, { format: '' })[0].log(streamInfo());
    await flushAllAccessLogs();
    assert.equal(read(f1), 'HTTP/2\n');
    assert.equal(read(f2), '{"d":"226"}\n');
    assert.equal(read(f3), '{"d":226}\n');
    assert.match(read(f4), /^\[2016-04-15T20:17:00\.310Z\] "POST/);
  });

  test('loggers on the same path share one file', async () => {
    const file = path.join(dir, 'shared.log');
    const [a] = fileLog(file, { log_format: { text_format: 'a\n' } });
    const [b] = fileLog(file, { log_format: { text_format: 'b\n' } });
    assert.equal(accessLogFile(file, 'x'), accessLogFile(file, 'y'));
    a.log(streamInfo()); b.log(streamInfo()); a.log(streamInfo());
    await flushAllAccessLogs();
    assert.equal(read(file), 'a\nb\na\n');
  });

  test('filter decides what is logged', async () => {
    const file = path.join(dir, 'filtered.log');
    const [log] = fileLog(file, { log_format: { text_format: '%RESPONSE_CODE%\n' } },
      { status_code_filter: { comparison: { op: 'GE', value: { default_value: 500, runtime_key: 'k' } } } });
    const ok = streamInfo();
    const bad = streamInfo();
    bad.responseCode = 503;
    log.log(ok); log.log(bad); log.log(ok);
    await flushAllAccessLogs();
    assert.equal(read(file), '503\n');
  });

  test('reopen after rotation writes to a fresh file', async () => {
    const file = path.join(dir, 'rotate.log');
    const [log] = fileLog(file, { log_format: { text_format: '%RESPONSE_CODE%\n' } });
    log.log(streamInfo());
    await flushAllAccessLogs();
    fs.renameSync(file, file + '.1');
    reopenAccessLogs();
    log.log(streamInfo());
    await flushAllAccessLogs();
    assert.equal(read(file + '.1'), '204\n');
    assert.equal(read(file), '204\n');
  });

  test('a throwing filter state object drops the line, never throws', async () => {
    const file = path.join(dir, 'throw.log');
    const [log] = fileLog(file, { log_format: { text_format: '%FILTER_STATE(bad:PLAIN)%\n' } });
    const info = streamInfo();
    info.filterState = new Map([['bad', { serializeAsString: () => { throw new Error('boom'); } }]]);
    assert.doesNotThrow(() => log.log(info));
    await flushAllAccessLogs();
    assert.equal(read(file), '');
  });
});

describe('config errors', () => {
  const base = 'listeners[0].filter_chains[0].filters[0].typed_config.access_log';
  test('unknown logger type', () => {
    assert.throws(() => createAccessLogs([{ name: 'x', typed_config: { '@type': 'type.googleapis.com/acme.Logger', '@unknown': true } }], base),
      (e: unknown) => e instanceof ConfigError && e.path === `${base}[0].typed_config` && /acme\.Logger/.test(e.message));
  });
  test('unknown command in a file logger format', () => {
    assert.throws(() => fileLog(path.join(dir, 'e.log'), { log_format: { text_format: '%WHAT%' } }),
      (e: unknown) => e instanceof ConfigError && e.path === `${base}[0].typed_config.log_format.text_format`
        && /WHAT/.test(e.message));
  });
  test('missing path and unopenable path', () => {
    assert.throws(() => createAccessLogs([{ typed_config: { '@type': FILE_TYPE, path: '' } }], base),
      (e: unknown) => e instanceof ConfigError && e.path === `${base}[0].typed_config.path`);
    assert.throws(() => fileLog('/nonexistent-remora-dir/x/y.log'),
      (e: unknown) => e instanceof ConfigError && e.path === `${base}[0].typed_config.path`);
  });
  test('bad filter names its path', () => {
    assert.throws(() => fileLog(path.join(dir, 'f.log'), {}, { metadata_filter: {} }),
      (e: unknown) => e instanceof ConfigError && e.path === `${base}[0].filter.metadata_filter`);
  });
  test('empty list gives no loggers', () => {
    assert.deepEqual(createAccessLogs([], base), []);
    assert.deepEqual(createAccessLogs(undefined, base), []);
  });
});

describe('stdout / stderr loggers', () => {
  // Real child process: its stdout/stderr are pipes, as in a container.
  function runChild(script: string): Promise<{ out: string; err: string; code: number | null }> {
    const ts = __filename.endsWith('.ts');
    const mod = path.join(__dirname, '..', '..', 'src', 'access_loggers', ts ? 'index.ts' : 'index.js');
    const helpers = path.join(__dirname, ts ? 'helpers.ts' : 'helpers.js');
    const code = `const al = require(${JSON.stringify(mod)}); const h = require(${JSON.stringify(helpers)});\n${script}`;
    const args = ts ? ['--import', 'tsx', '-e', code] : ['-e', code];
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => { out += d; });
      child.stderr.on('data', (d) => { err += d; });
      const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('child timed out')); }, 30_000);
      child.on('close', (c) => { clearTimeout(timer); resolve({ out, err, code: c }); });
    });
  }

  test('stdout logger with default format, flushed at exit', async () => {
    const r = await runChild(`
      const [log] = al.createAccessLogs([{ name: 'envoy.access_loggers.stdout', typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog' } }], 'x');
      log.log(h.streamInfo()); log.log(h.streamInfo());`);
    assert.equal(r.code, 0, r.err);
    const line = '[2016-04-15T20:17:00.310Z] "POST /api/v1/locations HTTP/2" 204 - 154 0 226 100 '
      + '"10.0.35.28" "nsq2http" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "locations" "10.0.2.1:80"\n';
    assert.equal(r.out, line + line);
  });

  test('stderr logger with a json format and flushAllAccessLogs', async () => {
    const r = await runChild(`
      const [log] = al.createAccessLogs([{ name: 'envoy.access_loggers.stderr', typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StderrAccessLog',
        log_format: { json_format: { c: '%RESPONSE_CODE%' } } } }], 'x');
      log.log(h.streamInfo());
      al.flushAllAccessLogs().then(() => process.exit(0));`);
    assert.equal(r.code, 0);
    assert.equal(r.err, '{"c":204}\n');
    assert.equal(r.out, '');
  });

  test('file path /dev/stdout goes to stdout', async () => {
    const r = await runChild(`
      const [log] = al.createAccessLogs([{ typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog', path: '/dev/stdout',
        log_format: { text_format: '%PROTOCOL%\\n' } } }], 'x');
      log.log(h.streamInfo());`);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'HTTP/2\n');
  });
});

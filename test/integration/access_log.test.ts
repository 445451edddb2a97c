// Access logging through a real bootstrap: an HCM with a file access logger (no format given,
// so Envoy's default format), real requests, the lines in the file.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { deadPort, request, startRemora, startUpstream, until, type Remora, type Upstream } from './helpers';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'remora-alog-'));
let r: Remora | undefined;
let up: Upstream | undefined;
after(async () => {
  await r?.close();
  await up?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function bootstrap(logPath: string, upPort: number, dead: number): string {
  const cluster = (name: string, port: number) => `
  - name: ${name}
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: ${name}
      endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${port} } } } } ] } ]`;
  return `
static_resources:
  listeners:
  - name: web
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: web
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${JSON.stringify(logPath)}
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/echo" }
                route: { cluster: backend }
              - match: { prefix: "/old/" }
                route: { cluster: backend, prefix_rewrite: "/new/" }
              - match: { prefix: "/dead" }
                route: { cluster: dead }
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
  clusters:${cluster('backend', upPort)}${cluster('dead', dead)}
`;
}

// [%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS%
// %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%"
// "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"
const DEFAULT_FORMAT = /^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\] "(\S+) (\S+) (\S+)" (\d+) (\S+) (\d+) (\d+) (\d+) (\S+) "([^"]*)" "([^"]*)" "([^"]*)" "([^"]*)" "([^"]*)"$/;

test('file access log, default format: one line per request with Envoy\'s fields', async () => {
  up = await startUpstream('backend');
  const dead = await deadPort();
  const logPath = path.join(dir, 'access.log');
  r = await startRemora(bootstrap(logPath, up.port, dead));
  const port = r.port('web');
  const before = Date.now();

  const a = await request(port, '/echo?q=1', {
    method: 'POST', body: 'hello',
    headers: { 'user-agent': 'itest/1.0', 'x-forwarded-for': '10.0.0.1', 'x-request-id': 'req-1', 'content-length': '5' },
  });
  assert.equal(a.status, 200);
  const b = await request(port, '/old/thing', { headers: { 'user-agent': 'itest/1.0', 'x-request-id': 'req-2' } });
  assert.equal(b.body, 'backend GET /new/thing');
  const c = await request(port, '/dead', { headers: { 'x-request-id': 'req-3' } });
  assert.equal(c.status, 503);
  const d = await request(port, '/nowhere', { headers: { 'x-request-id': 'req-4' } });
  assert.equal(d.status, 404);

  // Flushed by the periodic flush (--file-flush-interval-msec, 1 s by default).
  await until(() => fs.existsSync(logPath) && fs.readFileSync(logPath, 'utf8').split('\n').length > 4, 10_000, 'four access log lines');
  const lines = fs.readFileSync(logPath, 'utf8').split('\n');
  assert.equal(lines.pop(), '');
  assert.equal(lines.length, 4);
  const m = lines.map((l) => {
    const x = DEFAULT_FORMAT.exec(l);
    assert.ok(x, `not the default format: ${l}`);
    return x;
  });
  const authority = `127.0.0.1:${port}`;
  // The fields that do not depend on timing.
  const fixed = (x: RegExpExecArray) => [x[2], x[3], x[4], x[5], x[6], x[7], x[8], x[11], x[12], x[13], x[14], x[15]];
  assert.deepEqual(fixed(m[0]), ['POST', '/echo?q=1', 'HTTP/1.1', '200', '-', '5', String('backend POST /echo?q=1'.length), '10.0.0.1', 'itest/1.0', 'req-1', authority, `127.0.0.1:${up.port}`]);
  // The path before prefix_rewrite (x-envoy-original-path).
  assert.deepEqual(fixed(m[1]), ['GET', '/old/thing', 'HTTP/1.1', '200', '-', '0', String('backend GET /new/thing'.length), '-', 'itest/1.0', 'req-2', authority, `127.0.0.1:${up.port}`]);
  // Upstream connection failure: 503 UF, the host tried, no upstream service time.
  assert.deepEqual(fixed(m[2]).slice(0, 5), ['GET', '/dead', 'HTTP/1.1', '503', 'UF']);
  assert.equal(m[2][10], '-');
  assert.equal(m[2][15], `127.0.0.1:${dead}`);
  // No route: 404 NR, no upstream host.
  assert.deepEqual(fixed(m[3]), ['GET', '/nowhere', 'HTTP/1.1', '404', 'NR', '0', '0', '-', '-', 'req-4', authority, '-']);
  assert.equal(m[3][10], '-');
  // %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% is a number for proxied requests; times are sane.
  assert.match(m[0][10], /^\d+$/);
  for (const x of m) {
    const t = Date.parse(x[1]);
    assert.ok(t >= before - 1000 && t <= Date.now() + 1000, x[1]);
  }

  // One more request, then shutdown: the pending line is flushed on exit.
  await request(port, '/echo', { headers: { 'x-request-id': 'req-5' } });
  await r.close();
  const all = fs.readFileSync(logPath, 'utf8').split('\n').filter(Boolean);
  assert.equal(all.length, 5);
  assert.match(all[4], /"GET \/echo HTTP\/1\.1" 200 - 0 \d+ \d+ \d+ "-" "-" "req-5" /);
});

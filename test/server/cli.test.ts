// The command line (bin/remora.js, src/main.ts, src/server/options.ts) as a user runs it:
// Envoy's flags, exit codes and messages.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { basicBootstrap, runCli, startProc, tempDir } from './proc';
import { closeServer, get, listen, startUpstream, type Upstream } from '../integration/helpers';

const tmp = tempDir();
let up: Upstream;
const cleanups: Array<() => Promise<void> | void> = [() => tmp.cleanup()];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

function writeConfig(name: string, text: string): string {
  const p = path.join(tmp.dir, name);
  fs.writeFileSync(p, text);
  return p;
}

async function upstreamPort(): Promise<number> {
  if (!up) {
    up = await startUpstream('backend');
    cleanups.push(() => up.close());
  }
  return up.port;
}

/** Two clusters; the second one's lb_policy is replaced by `lbPolicy`. */
function twoClusters(lbPolicy: string): string {
  return `
static_resources:
  clusters:
  - name: a
    type: STATIC
    load_assignment: { cluster_name: a, endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 1 } } } } ] } ] }
  - name: b
    type: STATIC
    lb_policy: ${lbPolicy}
    load_assignment: { cluster_name: b, endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 2 } } } } ] } ] }
`;
}

test('--mode validate on a good config: exit 0, "configuration \'<path>\' OK", nothing bound', async () => {
  const file = writeConfig('good.yaml', basicBootstrap(await upstreamPort()));
  const r = await runCli(['--mode', 'validate', '-c', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `configuration '${file}' OK\n`);
  // Nothing is bound in validate mode: a listener on a port in use still validates.
  const busy = net.createServer();
  await listen(busy);
  cleanups.push(() => closeServer(busy));
  const busyPort = (busy.address() as net.AddressInfo).port;
  const onBusy = writeConfig('busy.yaml', basicBootstrap(await upstreamPort()).replace(/port_value: 0 \} \}\n    filter_chains/, `port_value: ${busyPort} } }\n    filter_chains`));
  assert.ok(fs.readFileSync(onBusy, 'utf8').includes(`port_value: ${busyPort}`));
  const b = await runCli(['--mode', 'validate', '-c', onBusy]);
  assert.equal(b.code, 0, b.stderr);
  // JSON works the same (chosen by extension).
  const json = writeConfig('good.json', JSON.stringify({ static_resources: { clusters: [{ name: 'c', type: 'STATIC' }] } }));
  const j = await runCli(['--mode', 'validate', '--config-path', json]);
  assert.equal(j.code, 0, j.stderr);
  assert.equal(j.stdout, `configuration '${json}' OK\n`);
});

test('a misspelled enum: exit 1 naming the field path and the value', async () => {
  const file = writeConfig('bad-enum.yaml', twoClusters('ROUND_ROBN'));
  const r = await runCli(['--mode', 'validate', '-c', file]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, `remora: error initializing configuration '${file}': static_resources.clusters[1].lb_policy: unknown enum value "ROUND_ROBN"\n`);
  // The same config in serve mode fails the same way, before binding anything.
  const s = await runCli(['-c', file]);
  assert.equal(s.code, 1);
  assert.match(s.stderr, /static_resources\.clusters\[1\]\.lb_policy: unknown enum value "ROUND_ROBN"/);
});

test('an unknown extension: exit 1 naming the type URL', async () => {
  const file = writeConfig('bad-ext.yaml', basicBootstrap(await upstreamPort())
    .replace('type.googleapis.com/envoy.extensions.filters.http.router.v3.Router', 'type.googleapis.com/acme.filters.http.Magic'));
  const r = await runCli(['--mode', 'validate', '-c', file]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /static_resources\.listeners\[0\]\.filter_chains\[0\]\.filters\[0\]\.typed_config\.http_filters\[0\]: /);
  assert.ok(r.stderr.includes("'type.googleapis.com/acme.filters.http.Magic'"), r.stderr);
  // A known Envoy extension remora does not implement is named the same way.
  const fault = writeConfig('fault.yaml', basicBootstrap(await upstreamPort()).replace('          http_filters:\n', `          http_filters:
          - name: envoy.filters.http.fault
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault }
`));
  const f = await runCli(['--mode', 'validate', '-c', fault]);
  assert.equal(f.code, 1);
  assert.ok(f.stderr.includes("Didn't find a registered implementation for 'envoy.filters.http.fault' with type URL: 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault'"), f.stderr);
});

test('bad inputs: missing file, no config, unparsable YAML', async () => {
  const missing = path.join(tmp.dir, 'nope.yaml');
  const m = await runCli(['--mode', 'validate', '-c', missing]);
  assert.equal(m.code, 1);
  assert.match(m.stderr, new RegExp(`unable to read file: ${missing.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
  const none = await runCli(['--mode', 'validate']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no config/);
  const junk = writeConfig('junk.yaml', 'static_resources: [unclosed\n');
  const j = await runCli(['--mode', 'validate', '-c', junk]);
  assert.equal(j.code, 1);
  assert.match(j.stderr, /unable to parse YAML/);
  const unknownField = writeConfig('unknown-field.yaml', 'static_resources: { clusterz: [] }\n');
  const u = await runCli(['--mode', 'validate', '-c', unknownField]);
  assert.equal(u.code, 1);
  assert.match(u.stderr, /clusterz/);
});

test('--config-yaml alone, and merged over -c (repeated fields appended, scalars replaced)', async () => {
  const port = await upstreamPort();
  const inline = await runCli(['--mode', 'validate', '--config-yaml', basicBootstrap(port)]);
  assert.equal(inline.code, 0, inline.stderr);
  assert.match(inline.stdout, /^configuration '.*' OK\n$/);

  // The file routes /extra to cluster `extra`, which only --config-yaml defines.
  const file = writeConfig('needs-extra.yaml', basicBootstrap(port, { extraRoutes: `
              - match: { prefix: "/extra" }
                route: { cluster: extra }` }));
  const alone = await runCli(['--mode', 'validate', '-c', file]);
  assert.equal(alone.code, 1);
  assert.match(alone.stderr, /unknown cluster 'extra'/);
  const extraCluster = `
static_resources:
  clusters:
  - name: extra
    type: STATIC
    load_assignment: { cluster_name: extra, endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${port} } } } } ] } ] }
node: { id: from-config-yaml }
`;
  const merged = await runCli(['--mode', 'validate', '-c', file, '--config-yaml', extraCluster]);
  assert.equal(merged.code, 0, merged.stderr);
  assert.equal(merged.stdout, `configuration '${file}' OK\n`);

  // Serving the merge: both clusters exist, node.id comes from --config-yaml, node.cluster from the file.
  const p = await startProc(['-c', file, '--config-yaml', extraCluster, '-l', 'error']);
  cleanups.push(() => p.kill());
  const info = JSON.parse((await p.admin('/server_info')).body);
  assert.equal(info.node.id, 'from-config-yaml');
  assert.equal(info.node.cluster, 'test-cluster');
  const clusters = (await p.admin('/clusters')).body;
  assert.match(clusters, /^extra::observability_name::extra$/m);
  assert.match(clusters, /^backend::observability_name::backend$/m);
  const lp = await p.listenerPort('ingress');
  assert.equal((await get(lp, '/extra/1')).body, 'backend GET /extra/1');
  p.child.kill('SIGTERM');
  assert.equal((await p.waitExit(10_000)).code, 0);
});

test('--version and --help: exit 0; an unknown flag or bad value: exit 1 with the usage', async () => {
  const v = await runCli(['--version']);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^remora version: \d+\.\d+\.\d+\S*\n$/);
  const h = await runCli(['--help']);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /^USAGE: remora /);
  const u = await runCli(['--no-such-flag']);
  assert.equal(u.code, 1);
  assert.equal(u.stdout, '');
  assert.match(u.stderr, /^remora: unknown flag: --no-such-flag\nUSAGE: remora /);
  const mode = await runCli(['--mode', 'bogus', '-c', 'x.yaml']);
  assert.equal(mode.code, 1);
  assert.match(mode.stderr, /--mode: expected serve, validate or init_only, got "bogus"/);
  const lvl = await runCli(['-l', 'loud', '-c', 'x.yaml']);
  assert.equal(lvl.code, 1);
  assert.match(lvl.stderr, /--log-level: invalid level "loud"/);
  const num = await runCli(['--drain-time-s', 'soon', '-c', 'x.yaml']);
  assert.equal(num.code, 1);
  assert.match(num.stderr, /--drain-time-s: expected an integer, got "soon"/);
  const missingValue = await runCli(['-c']);
  assert.equal(missingValue.code, 1);
  assert.match(missingValue.stderr, /flag -c needs a value/);
  // Envoy flags that only matter to its hot restart are accepted.
  const ignored = await runCli(['--disable-hot-restart', '--base-id', '3', '--mode', 'validate', '--config-yaml', twoClusters('ROUND_ROBIN')]);
  assert.equal(ignored.code, 0, ignored.stderr);
});

test('-l debug: debug lines in Envoy format; the default level (info) hides them', async () => {
  // tcp_fast_open_queue_length has no effect in remora: a debug-level note says so.
  const file = writeConfig('tfo.yaml', basicBootstrap(await upstreamPort())
    .replace('  - name: ingress\n', '  - name: ingress\n    tcp_fast_open_queue_length: 5\n'));
  const debug = await runCli(['--mode', 'validate', '-c', file, '-l', 'debug']);
  assert.equal(debug.code, 0, debug.stderr);
  assert.match(debug.stderr, /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\]\[debug\]\[config\] listener 'ingress': tcp_fast_open_queue_length has no effect in remora$/m);
  const info = await runCli(['--mode', 'validate', '-c', file]);
  assert.equal(info.code, 0);
  assert.doesNotMatch(info.stderr, /\[debug\]/);
  assert.match(info.stderr, /\[info\]\[config\] listener 'ingress' added on 127\.0\.0\.1:0/);
  const quiet = await runCli(['--mode', 'validate', '-c', file, '--log-level', 'error']);
  assert.equal(quiet.stderr, '');
  // --component-log-level sets one logger.
  const comp = await runCli(['--mode', 'validate', '-c', file, '-l', 'error', '--component-log-level', 'config:debug']);
  assert.match(comp.stderr, /\[debug\]\[config\]/);
  const badComp = await runCli(['--mode', 'validate', '-c', file, '--component-log-level', 'config']);
  assert.equal(badComp.code, 1);
  assert.match(badComp.stderr, /--component-log-level: bad entry "config"/);
});

test('--log-path: the log goes to the file, not stderr', async () => {
  const file = writeConfig('logpath.yaml', basicBootstrap(await upstreamPort()));
  const logFile = path.join(tmp.dir, 'remora.log');
  const r = await runCli(['--mode', 'validate', '-c', file, '--log-path', logFile]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.match(fs.readFileSync(logFile, 'utf8'), /\[info\]\[config\] listener 'ingress' added on 127\.0\.0\.1:0\n/);
  const bad = await runCli(['--mode', 'validate', '-c', file, '--log-path', path.join(tmp.dir, 'no', 'such', 'dir', 'x.log')]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--log-path: cannot open/);
});

test('--service-node, --service-cluster, --service-zone and -l show in /server_info', async () => {
  const file = writeConfig('node.yaml', basicBootstrap(await upstreamPort()));
  const p = await startProc(['-c', file, '--service-node', 'sidecar~10.1.2.3~reviews-v1.default~default.svc.cluster.local',
    '--service-cluster', 'reviews.default', '--service-zone', 'us-east-1a', '-l', 'debug', '--drain-time-s', '7']);
  cleanups.push(() => p.kill());
  const info = JSON.parse((await p.admin('/server_info')).body);
  assert.equal(info.state, 'LIVE');
  assert.equal(info.node.id, 'sidecar~10.1.2.3~reviews-v1.default~default.svc.cluster.local');
  assert.equal(info.node.cluster, 'reviews.default');
  assert.equal(info.node.locality.zone, 'us-east-1a');
  assert.equal(info.command_line_options.service_node, 'sidecar~10.1.2.3~reviews-v1.default~default.svc.cluster.local');
  assert.equal(info.command_line_options.service_cluster, 'reviews.default');
  assert.equal(info.command_line_options.service_zone, 'us-east-1a');
  assert.equal(info.command_line_options.log_level, 'debug');
  assert.equal(info.command_line_options.drain_time, '7s');
  assert.equal(info.command_line_options.config_path, file);
  assert.equal(info.command_line_options.mode, 'Serve');
  // Without the flags the bootstrap's node is used.
  p.child.kill('SIGTERM');
  assert.equal((await p.waitExit(10_000)).code, 0);
  const q = await startProc(['-c', file, '-l', 'error']);
  cleanups.push(() => q.kill());
  const info2 = JSON.parse((await q.admin('/server_info')).body);
  assert.equal(info2.node.id, 'test-node');
  assert.equal(info2.node.cluster, 'test-cluster');
  q.child.kill('SIGTERM');
  assert.equal((await q.waitExit(10_000)).code, 0);
});

test('--mode init_only: builds everything, binds, then exits 0', async () => {
  const file = writeConfig('init.yaml', basicBootstrap(await upstreamPort()));
  const r = await runCli(['--mode', 'init_only', '-c', file, '-l', 'error']);
  assert.equal(r.code, 0, r.stderr);
});

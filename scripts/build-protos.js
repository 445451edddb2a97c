#!/usr/bin/env node
'use strict';
// Build-time step: turn the real Envoy v3 .proto files shipped by the pinned
// @grpc/grpc-js-xds package (under deps/) into one protobufjs JSON descriptor.
// The runtime loads only that JSON; it never parses .proto files and does not
// need @grpc/grpc-js-xds or its dependencies.
const fs = require('fs');
const path = require('path');
const protobuf = require('protobufjs');

const out = path.join(__dirname, '..', 'dist', 'proto', 'envoy.json');
let depsDir;
try {
  depsDir = path.join(path.dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
} catch (e) {
  if (fs.existsSync(out)) { console.log('build-protos: @grpc/grpc-js-xds not installed, keeping', out); process.exit(0); }
  console.error('build-protos: @grpc/grpc-js-xds is a build-time dependency; run npm install'); process.exit(1);
}
const pjDir = path.dirname(require.resolve('protobufjs/package.json'));
const includeDirs = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => path.join(depsDir, d));

function walk(dir, acc) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, acc); else if (e.name.endsWith('.proto')) acc.push(p);
  }
  return acc;
}

// Every v3 Envoy API file plus the xds/udpa types (TypedStruct, matchers) that v3 uses.
const roots = [];
for (const sub of ['envoy/config', 'envoy/extensions', 'envoy/service', 'envoy/admin', 'envoy/type', 'envoy/data']) {
  const dir = path.join(includeDirs[0], sub);
  if (!fs.existsSync(dir)) continue;
  for (const f of walk(dir, [])) {
    const rel = path.relative(includeDirs[0], f);
    if (/\/v3(alpha)?\//.test(rel) || rel.startsWith('envoy/type/') && !/\/v2/.test(rel)) roots.push(rel);
  }
}
roots.push('udpa/type/v1/typed_struct.proto', 'xds/type/v3/typed_struct.proto');

function makeRoot() {
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) => {
    if (target.startsWith('google/protobuf/')) {
      // descriptor.proto ships as a file with protobufjs; the other well-known types are built in.
      const own = path.join(pjDir, target);
      return fs.existsSync(own) ? own : target;
    }
    for (const d of includeDirs) { const p = path.join(d, target); if (fs.existsSync(p)) return p; }
    return protobuf.util.path.resolve(origin, target);
  };
  return root;
}

// Some files import protos that the bundle does not carry (opencensus, opentelemetry,
// prometheus). Load file by file and skip the ones that fail, reporting them.
const skipped = [];
const root = makeRoot();
for (const r of roots) {
  const probe = makeRoot();
  try { probe.loadSync(r, { keepCase: true }); probe.resolveAll(); }
  catch (e) { skipped.push(r + ': ' + String(e.message).split('\n')[0]); continue; }
  root.loadSync(r, { keepCase: true });
}
root.resolveAll();
fs.mkdirSync(path.dirname(out), { recursive: true });
const json = JSON.stringify(root.toJSON({ keepComments: false }));
fs.writeFileSync(out, json);
console.log(`build-protos: ${roots.length - skipped.length} files -> ${path.relative(process.cwd(), out)} (${(json.length / 1048576).toFixed(2)} MiB)`);
if (skipped.length) console.log(`build-protos: skipped ${skipped.length} files with imports the bundle lacks:\n  ` + skipped.join('\n  '));

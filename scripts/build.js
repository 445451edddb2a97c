#!/usr/bin/env node
'use strict';
// npm run build: Envoy proto descriptor (build-time input), the optional native
// addon, then the TypeScript compile. Each step is skipped when up to date.
const { execFileSync, spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
process.chdir(root);

function newer(a, b) { // true if file a is newer than b (or b is missing)
  try { return fs.statSync(a).mtimeMs > fs.statSync(b).mtimeMs; } catch { return true; }
}

// 1. protos
const desc = 'dist/proto/envoy.json';
if (!fs.existsSync(desc) || newer('scripts/build-protos.js', desc) || newer('package-lock.json', desc)) {
  execFileSync(process.execPath, ['scripts/build-protos.js'], { stdio: 'inherit' });
}

// 2. native addon (optional: remora falls back to its JS path when it is missing)
if (fs.existsSync('native/binding.gyp')) {
  const out = 'native/build/Release/remora_native.node';
  const srcs = fs.readdirSync('native/src').map((f) => path.join('native/src', f)).concat(['native/binding.gyp']);
  if (!fs.existsSync(out) || srcs.some((s) => newer(s, out))) {
    // No header downloads here: use the system headers when they exist, so other machines still build.
    const args = ['rebuild', '--directory=native'];
    if (fs.existsSync('/usr/include/node/node_api.h')) args.push('--nodedir=/usr');
    const r = spawnSync('node-gyp', args, { stdio: 'inherit', shell: process.platform === 'win32' });
    if (r.status !== 0) console.warn('build: native addon failed to build; remora will use its pure-JS path');
  }
}

// 3. TypeScript
const tsc = path.join(path.dirname(require.resolve('typescript/package.json')), 'bin', 'tsc');
const r = spawnSync(process.execPath, [tsc, '-p', '.'], { stdio: 'inherit' });
if (r.status !== 0) { console.error('build: TypeScript compile failed'); process.exit(r.status || 1); }

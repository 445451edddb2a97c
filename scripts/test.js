#!/usr/bin/env node
'use strict';
// npm test: run every compiled test file (dist/test/**/*.test.js) with node:test.
// Node 20's --test takes no globs, so list the files here. Extra args are
// treated as path filters: `npm test -- router` runs files whose path contains "router".
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..', 'dist', 'test');
const files = [];
(function walk(d) {
  if (!fs.existsSync(d)) return;
  for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) walk(p); else if (e.name.endsWith('.test.js')) files.push(p);
  }
})(root);
const filters = process.argv.slice(2);
const chosen = filters.length ? files.filter((f) => filters.some((x) => f.includes(x))) : files;
if (chosen.length === 0) { console.error('no test files found under dist/test'); process.exit(1); }
chosen.sort();
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=120000', ...chosen], { stdio: 'inherit' });
process.exit(r.status === null ? 1 : r.status);

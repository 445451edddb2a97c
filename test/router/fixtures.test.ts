// Every HTTP RouteConfiguration in the shared fixtures (real Envoy example configs and
// istiod-generated config dumps) goes through the config mapper (src/config/json.ts)
// and compiles; a few well-known ones are routed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as YAML from 'yaml';
import { parse } from '../../src/config/json';
import { compileRouteConfig, type CompiledRouteConfig } from '../../src/router/index';
import { req } from './helpers';

import { FIXTURES } from '../shared_fixtures';
const ROOT = FIXTURES;

interface Found { file: string; where: string; cfg: Record<string, unknown> }

function walkFiles(dir: string, out: string[], depth = 0): void {
  if (depth > 20) return;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walkFiles(p, out, depth + 1);
    else if (/\.(ya?ml|json)$/.test(e.name)) out.push(p);
  }
}

function isHcm(o: Record<string, unknown>): boolean {
  const t = o['@type'];
  return typeof t === 'string' && t.endsWith('.HttpConnectionManager');
}

function collect(node: unknown, file: string, where: string, parent: Record<string, unknown> | null, inDump: boolean, out: Found[], depth = 0): void {
  if (depth > 60 || node === null || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    node.forEach((v, i) => collect(v, file, `${where}[${i}]`, parent, inDump, out, depth + 1));
    return;
  }
  const o = node as Record<string, unknown>;
  for (const [k, v] of Object.entries(o)) {
    const w = where ? `${where}.${k}` : k;
    if (k === 'route_config' && v && typeof v === 'object' && !Array.isArray(v)) {
      const rc = v as Record<string, unknown>;
      const t = rc['@type'];
      if (isHcm(o) || inDump || (typeof t === 'string' && t.endsWith('RouteConfiguration'))) {
        out.push({ file, where: w, cfg: rc });
        continue;
      }
    }
    const dump = inDump || k === 'dynamic_route_configs' || k === 'static_route_configs';
    collect(v, file, w, o, dump, out, depth + 1);
  }
}

function loadAll(): Found[] {
  const files: string[] = [];
  walkFiles(ROOT, files);
  const found: Found[] = [];
  for (const f of files.sort()) {
    const text = fs.readFileSync(f, 'utf8');
    if (!text.includes('route_config')) continue;
    let docs: unknown[];
    try {
      docs = f.endsWith('.json') ? [JSON.parse(text)] : YAML.parseAllDocuments(text).map((d) => d.toJS());
    } catch {
      continue; // templated or non-config files
    }
    docs.forEach((d, i) => collect(d, path.relative(ROOT, f) + (docs.length > 1 ? `#${i}` : ''), '', null, false, found));
  }
  return found;
}

const FOUND = loadAll();
if (process.env.REMORA_TEST_VERBOSE) console.log(`router fixtures: ${FOUND.length} route configs in ${new Set(FOUND.map((f) => f.file)).size} files`);
const COMPILED = new Map<string, CompiledRouteConfig>();

test('fixtures: every HTTP route_config parses and compiles', () => {
  assert.ok(FOUND.length >= 40, `found only ${FOUND.length} route configs`);
  assert.equal(new Set(FOUND.map((f) => f.file)).size >= 30, true);
  const failures: string[] = [];
  for (const f of FOUND) {
    const json = { ...f.cfg };
    delete json['@type'];
    try {
      const plain = parse('envoy.config.route.v3.RouteConfiguration', json, f.where);
      // The HCM hands in a hook backed by the HTTP filter registry; here every typed
      // per-filter config (incl. Istio's TypedStructs) is accepted as is.
      const rc = compileRouteConfig(plain, { path: f.where, perFilterConfig: (_name, cfg) => cfg });
      COMPILED.set(`${f.file}:${f.where}`, rc);
    } catch (e) {
      failures.push(`${f.file}: ${(e as Error).message}`);
    }
  }
  assert.deepEqual(failures, []);
});

function byFile(file: string): CompiledRouteConfig[] {
  return [...COMPILED.entries()].filter(([k]) => k.startsWith(file + ':')).map(([, v]) => v);
}

test('fixtures: front-proxy routes /service/1 and /service/2', () => {
  const [rc] = byFile('envoyproxy-examples/front-proxy/envoy.yaml');
  assert.ok(rc);
  assert.equal(rc.route(req('/service/1', { authority: 'localhost:8080' }), 0)?.clusterName, 'service1-envoy');
  assert.equal(rc.route(req('/service/2/x', { authority: 'anything' }), 0)?.clusterName, 'service2-envoy');
  assert.equal(rc.route(req('/other'), 0), null);
});

test('fixtures: route-mirror example mirrors to its shadow clusters', () => {
  const rcs = byFile('envoyproxy-examples/route-mirror/envoy.yaml');
  assert.ok(rcs.length > 0);
  const m = rcs[0].route(req('/service/1'), 0);
  assert.ok(m);
  assert.ok(m.route.requestMirrorPolicies.length > 0);
});

test('fixtures: istio gateway dump (bookinfo) routes with Istio\'s defaults', () => {
  const [rc] = byFile('istio-istio/istioctl/pkg/describe/testdata/describe/http_config.json');
  assert.ok(rc);
  assert.equal(rc.name, 'http.8080');
  const m = rc.route(req('/productpage?u=1', { authority: 'bookinfo.example:8080' }), 0);
  assert.ok(m);
  assert.equal(m.clusterName, 'outbound|9080||productpage.default.svc.cluster.local');
  assert.equal(m.route.timeoutMs, 0, 'Istio disables the route timeout');
  assert.equal(m.route.retryPolicy?.numRetries, 2);
  assert.deepEqual([...(m.route.retryPolicy?.retriableStatusCodes ?? [])], [503]);
  assert.equal(m.route.retryPolicy?.hostSelectionRetryMaxAttempts, 5);
  assert.deepEqual(m.route.retryPolicy?.retryHostPredicates.map((p) => p.name), ['envoy.retry_host_predicates.previous_hosts']);
  assert.equal(m.route.decorator?.operation, 'productpage.default.svc.cluster.local:9080/productpage');
  assert.equal(rc.route(req('/static/css/x.css', { authority: 'a' }), 0)?.route.decorator?.operation, 'productpage.default.svc.cluster.local:9080/static*');
  const extra = rc.route(req('/productpage/extra', { authority: 'a' }), 0);
  assert.notEqual(extra?.route.decorator?.operation, 'productpage.default.svc.cluster.local:9080/productpage', 'path match is exact');
});

test('fixtures: every route of every compiled fixture can be reached by a request built from its own match', () => {
  let tried = 0;
  let reached = 0;
  for (const rc of COMPILED.values()) {
    for (const vh of rc.virtualHosts) {
      const authority = vh.domains.find((d) => !d.includes('*')) ?? 'any.host';
      if (rc.findVirtualHost(authority) !== vh) continue;
      for (const r of vh.routes) {
        if (r.pathKind > 1 || r.headerMatchers.length || r.queryMatchers.length || r.grpc || r.runtimeFraction || r.metadataMatchers.length) continue;
        tried++;
        const m = rc.route(req(r.pathValue || '/', { authority, headers: { 'x-forwarded-proto': 'https' } }), 0);
        // an earlier route may shadow this one; the first match must then come earlier
        if (m && m.route.index <= r.index) reached++;
      }
    }
  }
  assert.ok(tried > 20, `tried ${tried}`);
  assert.equal(reached, tried);
});

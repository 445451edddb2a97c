// Micro-benchmark: route matching and virtual host lookup (src/router).
//   node --import tsx bench/micro/route_match.bench.ts        (or the compiled .js)
// Prints ns/op. Each task call routes a batch of prebuilt requests (hits spread over
// the whole table, plus misses) so tinybench's per-call overhead stays out of the numbers.
import { Bench } from 'tinybench';
import { compileRouteConfig, type CompiledRouteConfig, type RouteRequest } from '../../src/router/index';

const BATCH = 64;

function request(path: string, authority = 'svc.example.com'): RouteRequest {
  return { method: 'GET', authority, path, headers: { ':method': 'GET', ':path': path, ':authority': authority, ':scheme': 'http' } };
}

type Mix = 'prefix' | 'exact' | 'regex' | 'mixed' | 'regex-nolit';

function routeFor(mix: Mix, i: number): object {
  const kind = mix === 'mixed' ? (['prefix', 'exact', 'regex'] as const)[i % 3] : mix;
  switch (kind) {
    case 'prefix': return { match: { prefix: `/svc${i}/` }, route: { cluster: `c${i}` } };
    case 'exact': return { match: { path: `/svc${i}/items` }, route: { cluster: `c${i}` } };
    case 'regex': return { match: { safe_regex: { regex: `/svc${i}/items/[0-9]+` } }, route: { cluster: `c${i}` } };
    default: return { match: { safe_regex: { regex: `.*/svc${i}/items/[0-9]+` } }, route: { cluster: `c${i}` } };
  }
}

function pathFor(mix: Mix, i: number): string {
  const kind = mix === 'mixed' ? (['prefix', 'exact', 'regex'] as const)[i % 3] : mix;
  switch (kind) {
    case 'prefix': return `/svc${i}/items/42?x=1`;
    case 'exact': return `/svc${i}/items`;
    default: return `/svc${i}/items/42`;
  }
}

function table(n: number, mix: Mix): { rc: CompiledRouteConfig; reqs: RouteRequest[] } {
  const routes: object[] = [];
  for (let i = 0; i < n; i++) routes.push(routeFor(mix, i));
  const rc = compileRouteConfig({ name: 'bench', virtual_hosts: [{ name: 'vh', domains: ['*'], routes }] });
  const reqs: RouteRequest[] = [];
  for (let k = 0; k < BATCH; k++) {
    // every 8th request misses; the others spread evenly, the last route included
    if (k % 8 === 7) reqs.push(request(`/nomatch/${k}`));
    else reqs.push(request(pathFor(mix, Math.floor(((k + 1) * (n - 1)) / BATCH) % n)));
  }
  // sanity: hits resolve to the intended cluster
  for (const r of reqs) {
    const m = rc.route(r, 0);
    if (!r.path.startsWith('/nomatch') && (m === null || !r.path.startsWith('/' + m.clusterName.replace('c', 'svc') + '/'))) {
      throw new Error(`bench setup: ${r.path} -> ${m?.clusterName}`);
    }
  }
  return { rc, reqs };
}

function vhosts(n: number): { rc: CompiledRouteConfig; authorities: string[] } {
  const virtual_hosts: object[] = [];
  for (let i = 0; i < n; i++) {
    virtual_hosts.push({
      name: `svc${i}`,
      domains: [`svc${i}.ns.svc.cluster.local`, `svc${i}.ns.svc.cluster.local:8080`, `svc${i}`, `svc${i}.ns`, `10.${i >> 8}.${i & 255}.1:8080`],
      routes: [{ match: { prefix: '/' }, route: { cluster: `outbound|8080||svc${i}.ns.svc.cluster.local` } }],
    });
  }
  virtual_hosts.push({ name: 'wild', domains: ['*.wild.example.com', 'api-*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'w' } }] });
  virtual_hosts.push({ name: 'default', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'passthrough' } }] });
  const rc = compileRouteConfig({ name: 'vhosts', virtual_hosts });
  const authorities: string[] = [];
  for (let k = 0; k < BATCH; k++) {
    const i = Math.floor((k * (n - 1)) / BATCH);
    switch (k % 4) {
      case 0: authorities.push(`svc${i}.ns.svc.cluster.local:8080`); break;
      case 1: authorities.push(`SVC${i}.ns.svc.cluster.local`); break;
      case 2: authorities.push(`x${k}.wild.example.com`); break;
      default: authorities.push(`unknown-${k}.example.org`); break;
    }
  }
  return { rc, authorities };
}

async function main(): Promise<void> {
  const bench = new Bench({ time: 400, warmupTime: 100 });
  let sink = 0;
  const cases: Array<[number, Mix]> = [
    [10, 'prefix'], [10, 'mixed'],
    [1000, 'prefix'], [1000, 'exact'], [1000, 'regex'], [1000, 'mixed'],
    [10000, 'prefix'], [10000, 'exact'], [10000, 'regex'], [10000, 'mixed'],
    [1000, 'regex-nolit'],
  ];
  for (const [n, mix] of cases) {
    const { rc, reqs } = table(n, mix);
    bench.add(`route ${n} routes (${mix})`, () => {
      for (let k = 0; k < BATCH; k++) {
        const m = rc.route(reqs[k], k);
        if (m !== null) sink += m.clusterName.length;
      }
    });
  }
  const { rc: vrc, authorities } = vhosts(1000);
  bench.add('findVirtualHost 1000 vhosts (exact/port/wildcard/default mix)', () => {
    for (let k = 0; k < BATCH; k++) {
      const vh = vrc.findVirtualHost(authorities[k]);
      if (vh !== null) sink += vh.name.length;
    }
  });
  const vreqs = authorities.map((a) => request('/reviews/1', a));
  bench.add('route() incl. vhost lookup, 1000 vhosts', () => {
    for (let k = 0; k < BATCH; k++) {
      const m = vrc.route(vreqs[k], k);
      if (m !== null) sink += m.clusterName.length;
    }
  });

  await bench.run();
  const rows = bench.tasks.map((t) => {
    const r = t.result as { state: string; latency?: { mean: number; rme: number } };
    const ns = r.latency ? (r.latency.mean * 1e6) / BATCH : NaN;
    return { task: t.name, 'ns/op': ns.toFixed(1), 'ops/s': ns > 0 ? Math.round(1e9 / ns).toLocaleString('en-US') : '-', 'rme%': r.latency ? r.latency.rme.toFixed(1) : '-' };
  });
  console.table(rows);
  if (sink === -1) console.log(sink);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});

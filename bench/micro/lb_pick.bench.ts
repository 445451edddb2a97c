// Micro-benchmark: host selection cost per load-balancing policy (src/lb) through
// Cluster.chooseHost, with 10, 100 and 1000 hosts.
//   node --import tsx bench/micro/lb_pick.bench.ts        (or the compiled .js)
// Prints ns/op. Each task call makes a batch of picks so tinybench's per-call overhead stays out.
import { Bench } from 'tinybench';
import { ClusterManagerImpl } from '../../src/cluster/cluster_manager';
import { parse } from '../../src/config/json';
import { Store } from '../../src/stats/stats';
import { seededRandom } from '../../src/lb/random_source';
import type { Cluster } from '../../src/cluster/types';

const BATCH = 64;
const silent = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, critical() {} };

interface Case { policy: string; weighted: boolean; extra?: object; priorities?: number }

function build(cm: ClusterManagerImpl, name: string, n: number, c: Case): Cluster {
  const groups: object[] = [];
  const prios = c.priorities ?? 1;
  for (let p = 0; p < prios; p++) {
    const lb_endpoints: object[] = [];
    for (let i = 0; i < n; i++) {
      lb_endpoints.push({
        endpoint: { address: { socket_address: { address: `10.${p}.${i >> 8}.${i & 255}`, port_value: 8080 } } },
        load_balancing_weight: c.weighted ? 1 + (i % 5) : 1,
        // In the multi-priority case, half of P0 is unhealthy so ~30% spills to P1.
        health_status: p === 0 && prios > 1 && i % 2 === 1 ? 'UNHEALTHY' : 'HEALTHY',
      });
    }
    groups.push({ priority: p, locality: { zone: `z${p}` }, load_balancing_weight: 1, lb_endpoints });
  }
  const cluster = cm.addOrUpdate(parse('envoy.config.cluster.v3.Cluster', {
    name, type: 'STATIC', connect_timeout: '1s', lb_policy: c.policy,
    load_assignment: { cluster_name: name, endpoints: groups },
    ...c.extra,
  }));
  // Spread some outstanding requests for LEAST_REQUEST.
  const r = seededRandom(n);
  for (const hs of cluster.hostsByPriority()) for (const h of hs) h.activeRequests = r() % 8;
  return cluster;
}

async function main(): Promise<void> {
  const cm = new ClusterManagerImpl({ stats: new Store(), log: silent, random: seededRandom(12345) });
  const bench = new Bench({ time: 300, warmupTime: 100 });
  let sink = 0;
  const cases: Array<[string, Case]> = [
    ['ROUND_ROBIN', { policy: 'ROUND_ROBIN', weighted: false }],
    ['ROUND_ROBIN weighted (EDF)', { policy: 'ROUND_ROBIN', weighted: true }],
    ['LEAST_REQUEST (P2C)', { policy: 'LEAST_REQUEST', weighted: false }],
    ['LEAST_REQUEST weighted (EDF)', { policy: 'LEAST_REQUEST', weighted: true }],
    ['RANDOM', { policy: 'RANDOM', weighted: false }],
  ];
  let k = 0;
  for (const n of [10, 100, 1000]) {
    for (const [label, c] of cases) {
      const cluster = build(cm, `c${k++}`, n, c);
      bench.add(`${label}, ${n} hosts`, () => {
        for (let i = 0; i < BATCH; i++) sink += cluster.chooseHost(undefined)!.port;
      });
    }
  }
  for (const [label, c] of [
    ['ROUND_ROBIN, 2 priorities (spillover)', { policy: 'ROUND_ROBIN', weighted: false, priorities: 2 }],
    ['ROUND_ROBIN, locality weighted', { policy: 'ROUND_ROBIN', weighted: false, priorities: 1, extra: { common_lb_config: { locality_weighted_lb_config: {} } } }],
  ] as Array<[string, Case]>) {
    const cluster = build(cm, `c${k++}`, 100, c);
    bench.add(`${label}, 100 hosts`, () => {
      for (let i = 0; i < BATCH; i++) sink += cluster.chooseHost(undefined)!.port;
    });
  }

  await bench.run();
  const rows = bench.tasks.map((t) => {
    const r = t.result as { state: string; latency?: { mean: number; rme: number } };
    const ns = r.latency ? (r.latency.mean * 1e6) / BATCH : NaN;
    return { task: t.name, 'ns/op': ns.toFixed(1), 'ops/s': ns > 0 ? Math.round(1e9 / ns).toLocaleString('en-US') : '-', 'rme%': r.latency ? r.latency.rme.toFixed(1) : '-' };
  });
  console.table(rows);
  cm.shutdown();
  if (sink === -1) console.log(sink);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});

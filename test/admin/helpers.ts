// Shared by the admin tests: a fake provider object (the admin server itself is real)
// and a tiny HTTP client over node:http.
import * as http from 'node:http';
import { startAdmin, type AdminProviders, type AdminServer, type ServerState } from '../../src/admin';
import { Store } from '../../src/stats/stats';

export interface Calls {
  drain: Array<{ inboundOnly: boolean; graceful: boolean; skipExit: boolean }>;
  healthcheckFail: number;
  healthcheckOk: number;
  quit: number;
  configDumpQueries: unknown[];
  runtimeModify: Array<Record<string, string>>;
  beforeStats: number;
}

export interface Fake {
  providers: AdminProviders;
  calls: Calls;
  state: { value: ServerState };
}

export function fakeProviders(store = new Store(), extra: Partial<AdminProviders> = {}): Fake {
  const calls: Calls = { drain: [], healthcheckFail: 0, healthcheckOk: 0, quit: 0, configDumpQueries: [], runtimeModify: [], beforeStats: 0 };
  const state = { value: 'LIVE' as ServerState };
  const providers: AdminProviders = {
    stats: store,
    beforeStats: () => { calls.beforeStats++; },
    serverInfo: () => ({
      version: '0.1.0/node-v20/RELEASE/OpenSSL-3',
      state: state.value,
      uptimeCurrentEpochS: 12.7,
      uptimeAllEpochsS: 12.7,
      commandLineOptions: { base_id: '0', concurrency: 2, config_path: '/etc/envoy.yaml', drain_time: '600s' },
      node: { id: 'sidecar~10.0.0.1~web.ns~ns.svc.cluster.local', cluster: 'web.ns' },
      nativePath: 'js',
    }),
    configDump: (q) => { calls.configDumpQueries.push(q); return { configs: [] }; },
    listeners: () => [
      { name: 'virtualOutbound', localAddress: { address: '0.0.0.0', port: 15001 } },
      { name: 'v6', localAddress: { address: '::', port: 8080 }, additionalLocalAddresses: [{ address: '0.0.0.0', port: 8080 }] },
      { name: 'text', localAddress: '127.0.0.1:9000' },
    ],
    drainListeners: (o) => { calls.drain.push(o); },
    healthcheckFail: () => { calls.healthcheckFail++; state.value = 'DRAINING'; },
    healthcheckOk: () => { calls.healthcheckOk++; state.value = 'LIVE'; },
    quit: () => { calls.quit++; },
    ...extra,
  };
  return { providers, calls, state };
}

export async function start(fake: Fake): Promise<AdminServer> {
  return startAdmin({ address: '127.0.0.1', port: 0 }, fake.providers);
}

export interface Res { status: number; headers: http.IncomingHttpHeaders; body: string }

export function request(port: number, path: string, opts: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(10000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(opts.body);
  });
}

export const get = (port: number, path: string) => request(port, path);
export const post = (port: number, path: string, body?: string, headers?: Record<string, string>) => request(port, path, { method: 'POST', body, headers });

// Small builders for hand-written plain-form route configs and requests.
import type { Headers } from '../../src/http/headers';
import type { RouteRequest } from '../../src/router/index';

export function req(path: string, opts: {
  authority?: string; method?: string; headers?: Headers; scheme?: string;
  tls?: { presented: boolean; validated: boolean }; dynamicMetadata?: Record<string, Record<string, unknown>>;
} = {}): RouteRequest {
  const authority = opts.authority ?? 'example.com';
  const method = opts.method ?? 'GET';
  const headers: Headers = { ':method': method, ':authority': authority, ':path': path, ':scheme': opts.scheme ?? 'http', ...(opts.headers ?? {}) };
  if (path === '') delete headers[':path'];
  return { method, authority, path, headers, scheme: opts.scheme, tls: opts.tls, dynamicMetadata: opts.dynamicMetadata };
}

/** One catch-all vhost holding `routes`. */
export function oneVhost(routes: object[], vhostExtra: object = {}, cfgExtra: object = {}): object {
  return { name: 'rc', virtual_hosts: [{ name: 'vh', domains: ['*'], routes, ...vhostExtra }], ...cfgExtra };
}

export function cluster(match: object, name: string, extra: object = {}): object {
  return { match, route: { cluster: name, ...extra } };
}

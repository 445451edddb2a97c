// DNS resolution for STRICT_DNS / LOGICAL_DNS clusters.
//
// Default: getaddrinfo (node:dns lookup), which honours /etc/hosts like Envoy's getaddrinfo
// resolver. With dns_resolvers / dns_resolution_config.resolvers / a c-ares typed resolver
// config, queries go to those servers (node:dns Resolver resolve4/resolve6). respect_dns_ttl
// asks the system servers for A/AAAA with TTLs and falls back to getaddrinfo (no TTL) when that fails.
//
// dns_lookup_family: V4_ONLY, V6_ONLY, AUTO (IPv6 if any, else IPv4), V4_PREFERRED (IPv4 if any,
// else IPv6), ALL (both). A name that does not exist (ENOTFOUND / ENODATA) is an empty answer;
// any other error is a failure (the cluster keeps its last good hosts).
import * as dns from 'node:dns';
import * as net from 'node:net';
import { ConfigError, joinPath } from '../config/errors';
import type { Plain } from '../config/plain';
import { typeName } from './cluster_info';

export type DnsLookupFamily = 'AUTO' | 'V4_ONLY' | 'V6_ONLY' | 'V4_PREFERRED' | 'ALL';

export interface DnsAnswer {
  addresses: string[];
  /** Smallest TTL in seconds when known, else 0. */
  ttlSec: number;
}

/** Resolves a name for a lookup family; rejects on failure (not on "no such name"). */
export type DnsResolveFn = (name: string, family: DnsLookupFamily) => Promise<DnsAnswer>;

const EMPTY_CODES = new Set(['ENOTFOUND', 'ENODATA', 'NOTFOUND', 'NODATA']);

function isEmptyError(e: unknown): boolean {
  return EMPTY_CODES.has((e as { code?: string })?.code ?? '');
}

function pick(v4: string[], v6: string[], family: DnsLookupFamily): string[] {
  switch (family) {
    case 'V4_ONLY': return v4;
    case 'V6_ONLY': return v6;
    case 'V4_PREFERRED': return v4.length ? v4 : v6;
    case 'ALL': return v4.concat(v6);
    default: return v6.length ? v6 : v4;
  }
}

/** getaddrinfo-based resolution (no TTLs). */
export async function lookupResolve(name: string, family: DnsLookupFamily): Promise<DnsAnswer> {
  if (net.isIP(name)) return { addresses: pick(net.isIPv4(name) ? [name] : [], net.isIPv6(name) ? [name] : [], family), ttlSec: 0 };
  const fam = family === 'V4_ONLY' ? 4 : family === 'V6_ONLY' ? 6 : 0;
  let res: dns.LookupAddress[];
  try {
    res = await dns.promises.lookup(name, { all: true, family: fam, verbatim: true });
  } catch (e) {
    if (isEmptyError(e)) return { addresses: [], ttlSec: 0 };
    throw e;
  }
  const v4: string[] = [];
  const v6: string[] = [];
  for (const r of res) {
    const list = r.family === 6 ? v6 : v4;
    if (!list.includes(r.address)) list.push(r.address);
  }
  if (family === 'ALL') {
    // Keep the resolver's order.
    const out: string[] = [];
    for (const r of res) if (!out.includes(r.address)) out.push(r.address);
    return { addresses: out, ttlSec: 0 };
  }
  return { addresses: pick(v4, v6, family), ttlSec: 0 };
}

/** DNS-protocol resolution (c-ares) against `resolver`, with TTLs. */
export function serverResolve(resolver: dns.promises.Resolver): DnsResolveFn {
  const q = async (name: string, v6: boolean): Promise<dns.RecordWithTtl[]> => {
    try {
      return v6 ? await resolver.resolve6(name, { ttl: true }) : await resolver.resolve4(name, { ttl: true });
    } catch (e) {
      if (isEmptyError(e)) return [];
      throw e;
    }
  };
  return async (name, family) => {
    if (net.isIP(name)) return lookupResolve(name, family);
    let recs: dns.RecordWithTtl[];
    switch (family) {
      case 'V4_ONLY': recs = await q(name, false); break;
      case 'V6_ONLY': recs = await q(name, true); break;
      case 'V4_PREFERRED': recs = await q(name, false); if (!recs.length) recs = await q(name, true); break;
      case 'ALL': recs = (await q(name, false)).concat(await q(name, true)); break;
      default: recs = await q(name, true); if (!recs.length) recs = await q(name, false); break;
    }
    let ttl = 0;
    const addresses: string[] = [];
    for (const r of recs) {
      if (!addresses.includes(r.address)) addresses.push(r.address);
      if (ttl === 0 || (r.ttl > 0 && r.ttl < ttl)) ttl = r.ttl;
    }
    return { addresses, ttlSec: ttl };
  };
}

function resolverAddresses(list: Plain[] | undefined, path: string): string[] {
  const out: string[] = [];
  (list ?? []).forEach((a, i) => {
    const sa = a?.socket_address;
    const p = `${path}[${i}]`;
    if (!sa) throw new ConfigError(p, 'DNS resolvers need a socket_address');
    if (!net.isIP(sa.address ?? '')) throw new ConfigError(joinPath(p, 'socket_address.address'), `malformed IP address: ${sa.address}`);
    const port = sa.port_value ?? 53;
    out.push(net.isIPv6(sa.address) ? `[${sa.address}]:${port || 53}` : `${sa.address}:${port || 53}`);
  });
  return out;
}

const CARES = 'envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig';
const GETADDRINFO = 'envoy.extensions.network.dns_resolver.getaddrinfo.v3.GetAddrInfoDnsResolverConfig';

/** The resolver a DNS cluster's config asks for (validates dns_resolvers & co; path = the cluster's path). */
export function resolverForCluster(c: Plain, path: string, override?: DnsResolveFn): DnsResolveFn {
  let servers: string[] = resolverAddresses(c.dns_resolvers, joinPath(path, 'dns_resolvers'));
  if (c.dns_resolution_config) {
    servers = servers.concat(resolverAddresses(c.dns_resolution_config.resolvers, joinPath(path, 'dns_resolution_config.resolvers')));
  }
  const typed = c.typed_dns_resolver_config;
  if (typed) {
    const tp = joinPath(path, 'typed_dns_resolver_config');
    const t = typeName(typed.typed_config?.['@type']);
    if (t === CARES) {
      servers = servers.concat(resolverAddresses(typed.typed_config.resolvers, joinPath(tp, 'typed_config.resolvers')));
    } else if (t !== GETADDRINFO) {
      throw new ConfigError(joinPath(tp, 'typed_config'), `unsupported DNS resolver "${typed.typed_config?.['@type'] ?? typed.name}"`);
    }
  }
  if (override) return override;
  if (servers.length) {
    const r = new dns.promises.Resolver();
    r.setServers(servers);
    return serverResolve(r);
  }
  if (c.respect_dns_ttl) {
    // Bounded so an unreachable server falls back to getaddrinfo quickly.
    const viaServers = serverResolve(new dns.promises.Resolver({ timeout: 2000, tries: 2 }));
    return async (name, family) => {
      try {
        const a = await viaServers(name, family);
        if (a.addresses.length) return a;
      } catch { /* fall back to getaddrinfo */ }
      return lookupResolve(name, family);
    };
  }
  return lookupResolve;
}

// Filter chain selection, Envoy's FilterChainMatch algorithm
// (api/envoy/config/listener/v3/listener_components.proto; Envoy
// source/common/listener_manager/filter_chain_manager_impl.cc).
//
// Criteria are applied in this order; at each step only the most specific
// candidates that match survive and there is no backtracking to a less specific
// candidate when a later step fails:
//   1. destination port          exact port, else chains without a port (only when no chain names the port)
//   2. destination IP            longest matching prefix_ranges; no ranges = 0.0.0.0/0 and ::/0
//   3. server name (SNI)         exact, then "*.suffix" from the longest suffix, then chains without names
//   4. transport protocol        exact, then chains without one
//   5. application protocols     first client-offered protocol that some chain lists, then chains without
//   6. direct source IP          longest matching direct_source_prefix_ranges
//   7. source type               SAME_IP_OR_LOOPBACK / EXTERNAL when such chains exist, else ANY
//   8. source IP                 longest matching source_prefix_ranges
//   9. source port               exact, then chains without source_ports
// No match selects default_filter_chain, or nothing (the caller closes the connection).
//
// The compiled form is a tree of Maps and longest-prefix tables built once per
// listener config; find() does a handful of Map probes per connection.
import { CidrRange, IpAddress, LpmTable, isLoopback, parseIp } from '../common/cidr';
import { ConfigError, joinPath } from '../config/errors';
import type { Plain } from '../config/plain';
import { stableStringify } from './stable';

/** The connection facts matching reads (a ConnectionInfo satisfies it). */
export interface MatchConnection {
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  directRemoteAddress: string;
  sni: string;
  transportProtocol: string;
  alpn: string[];
}

export interface FilterChainEntry<T> {
  /** Plain envoy.config.listener.v3.FilterChainMatch, or undefined (matches everything). */
  match: Plain | undefined;
  value: T;
  /** FilterChain.name, for error messages. */
  name: string;
}

export interface CompileOptions {
  /** Listener address text for error messages ("0.0.0.0:15006"). */
  listenerAddress: string;
  /** Field path of the filter_chains list (default 'filter_chains'). */
  path?: string;
}

const ANY = 0, LOCAL = 1, EXTERNAL = 2;

// Tree levels, innermost first.
type SourcePorts<T> = Map<number, T>;
type SourceIps<T> = LpmTable<SourcePorts<T>>;
type SourceTypes<T> = [SourceIps<T> | undefined, SourceIps<T> | undefined, SourceIps<T> | undefined];
type DirectSourceIps<T> = LpmTable<SourceTypes<T>>;
type AppProtocols<T> = Map<string, DirectSourceIps<T>>;
type TransportProtocols<T> = Map<string, AppProtocols<T>>;
type ServerNames<T> = Map<string, TransportProtocols<T>>;
type DestinationIps<T> = LpmTable<ServerNames<T>>;

// 255.255.255.255: what non-IP (pipe) addresses are matched as, like Envoy's fakeAddress().
const FAKE_ADDRESS: IpAddress = { family: 4, bytes: new Uint8Array([255, 255, 255, 255]) };

interface NormalizedMatch {
  destinationPort: number;
  prefixRanges: CidrRange[];
  serverNames: string[];
  transportProtocol: string;
  applicationProtocols: string[];
  directSourceRanges: CidrRange[];
  sourceType: number;
  sourceRanges: CidrRange[];
  sourcePorts: number[];
}

export class FilterChainMatcher<T> {
  /** @internal */
  constructor(
    private readonly ports: Map<number, DestinationIps<T>>,
    readonly defaultChain: T | undefined,
  ) {}

  /** The matching filter chain, else the default chain, else undefined. */
  find(c: MatchConnection): T | undefined {
    const r = this.findMatch(c);
    return r !== undefined ? r : this.defaultChain;
  }

  /** Like find() but without the default chain fallback. */
  findMatch(c: MatchConnection): T | undefined {
    const local = parseIp(c.localAddress);
    if (local) {
      const exact = this.ports.get(c.localPort);
      if (exact) return this.destinationIp(exact, local, c);
    }
    const any = this.ports.get(0);
    return any ? this.destinationIp(any, local ?? FAKE_ADDRESS, c) : undefined;
  }

  private destinationIp(t: DestinationIps<T>, local: IpAddress, c: MatchConnection): T | undefined {
    const names = t.lookup(local);
    return names ? this.serverName(names, c) : undefined;
  }

  private serverName(m: ServerNames<T>, c: MatchConnection): T | undefined {
    const sni = c.sni ? c.sni.toLowerCase() : '';
    if (sni) {
      const exact = m.get(sni);
      if (exact) return this.transport(exact, c);
      // ".example.com" then ".com" for "www.example.com".
      let pos = sni.indexOf('.', 1);
      while (pos !== -1 && pos < sni.length - 1) {
        const w = m.get(sni.slice(pos));
        if (w) return this.transport(w, c);
        pos = sni.indexOf('.', pos + 1);
      }
    }
    const none = m.get('');
    return none ? this.transport(none, c) : undefined;
  }

  private transport(m: TransportProtocols<T>, c: MatchConnection): T | undefined {
    const exact = c.transportProtocol ? m.get(c.transportProtocol) : undefined;
    if (exact) return this.appProtocols(exact, c);
    const none = m.get('');
    return none ? this.appProtocols(none, c) : undefined;
  }

  private appProtocols(m: AppProtocols<T>, c: MatchConnection): T | undefined {
    const alpn = c.alpn;
    for (let i = 0; i < alpn.length; i++) {
      if (alpn[i] === '') continue;
      const t = m.get(alpn[i]);
      if (t) return this.directSource(t, c);
    }
    const none = m.get('');
    return none ? this.directSource(none, c) : undefined;
  }

  private directSource(t: DirectSourceIps<T>, c: MatchConnection): T | undefined {
    const types = t.lookup(parseIp(c.directRemoteAddress) ?? FAKE_ADDRESS);
    return types ? this.sourceType(types, c) : undefined;
  }

  private sourceType(types: SourceTypes<T>, c: MatchConnection): T | undefined {
    const localT = types[LOCAL], externalT = types[EXTERNAL];
    if (localT || externalT) {
      if (isSameIpOrLoopback(c)) {
        if (localT) return this.sourceIpPort(localT, c);
      } else if (externalT) {
        return this.sourceIpPort(externalT, c);
      }
    }
    const anyT = types[ANY];
    return anyT ? this.sourceIpPort(anyT, c) : undefined;
  }

  private sourceIpPort(t: SourceIps<T>, c: MatchConnection): T | undefined {
    const ip = parseIp(c.remoteAddress);
    const ports = t.lookup(ip ?? FAKE_ADDRESS);
    if (!ports) return undefined;
    const port = ip ? c.remotePort : 0;
    const hit = ports.get(port);
    if (hit !== undefined) return hit;
    return port !== 0 ? ports.get(0) : undefined;
  }
}

/** Envoy's Network::Utility::isSameIpOrLoopback: pipes, loopback peers, or peer IP == local IP. */
export function isSameIpOrLoopback(c: { remoteAddress: string; localAddress: string }): boolean {
  const remote = parseIp(c.remoteAddress);
  if (!remote) return true; // pipe / non-IP peer
  if (isLoopback(remote)) return true;
  const local = parseIp(c.localAddress);
  if (!local || local.family !== remote.family) return false;
  for (let i = 0; i < remote.bytes.length; i++) if (remote.bytes[i] !== local.bytes[i]) return false;
  return true;
}

function sourceTypeOf(v: unknown, path: string): number {
  if (v === undefined || v === null || v === 'ANY' || v === 0) return ANY;
  if (v === 'SAME_IP_OR_LOOPBACK' || v === 1) return LOCAL;
  if (v === 'EXTERNAL' || v === 2) return EXTERNAL;
  throw new ConfigError(path, `unknown source_type "${String(v)}"`);
}

function ranges(list: Plain[] | undefined, path: string, listenerAddress: string): CidrRange[] {
  const out: CidrRange[] = [];
  (list ?? []).forEach((r: Plain, i: number) => {
    try {
      out.push(CidrRange.fromPlain(r ?? {}));
    } catch (e) {
      throw new ConfigError(`${path}[${i}]`, `error adding listener '${listenerAddress}': ${(e as Error).message}`);
    }
  });
  return out;
}

function normalize(m: Plain | undefined, path: string, listenerAddress: string): NormalizedMatch {
  const fm = m ?? {};
  if ((fm.address_suffix ?? '') !== '' || fm.suffix_len !== undefined) {
    throw new ConfigError(path, `error adding listener '${listenerAddress}': address_suffix and suffix_len are not implemented`);
  }
  const destinationPort = fm.destination_port ?? 0;
  if (!Number.isInteger(destinationPort) || destinationPort < 0 || destinationPort > 65535) {
    throw new ConfigError(joinPath(path, 'destination_port'), `value must be less than or equal to 65535`);
  }
  const serverNames: string[] = [];
  ((fm.server_names ?? []) as string[]).forEach((n, i) => {
    if (n.includes('*') && !n.startsWith('*.')) {
      throw new ConfigError(`${joinPath(path, 'server_names')}[${i}]`,
        `error adding listener '${listenerAddress}': partial wildcards are not supported in "server_names"`);
    }
    if (n.startsWith('*.') && n.indexOf('*', 1) >= 0) {
      throw new ConfigError(`${joinPath(path, 'server_names')}[${i}]`,
        `error adding listener '${listenerAddress}': partial wildcards are not supported in "server_names"`);
    }
    const lower = n.toLowerCase();
    // "*.example.com" is stored as ".example.com", the suffix find() probes with.
    serverNames.push(lower.startsWith('*.') ? lower.slice(1) : lower);
  });
  const sourcePorts: number[] = [];
  ((fm.source_ports ?? []) as number[]).forEach((p, i) => {
    if (!Number.isInteger(p) || p < 0 || p > 65535) {
      throw new ConfigError(`${joinPath(path, 'source_ports')}[${i}]`, `value must be less than or equal to 65535`);
    }
    sourcePorts.push(p);
  });
  return {
    destinationPort,
    prefixRanges: ranges(fm.prefix_ranges, joinPath(path, 'prefix_ranges'), listenerAddress),
    serverNames,
    transportProtocol: fm.transport_protocol ?? '',
    applicationProtocols: ((fm.application_protocols ?? []) as string[]).slice(),
    directSourceRanges: ranges(fm.direct_source_prefix_ranges, joinPath(path, 'direct_source_prefix_ranges'), listenerAddress),
    sourceType: sourceTypeOf(fm.source_type, joinPath(path, 'source_type')),
    sourceRanges: ranges(fm.source_prefix_ranges, joinPath(path, 'source_prefix_ranges'), listenerAddress),
    sourcePorts,
  };
}

/** Canonical text of a FilterChainMatch as configured (for the "same matching rules" check). */
function matchIdentity(m: Plain | undefined): string {
  const fm = m ?? {};
  return stableStringify({
    destination_port: fm.destination_port ?? 0,
    prefix_ranges: (fm.prefix_ranges ?? []).map((r: Plain) => [r?.address_prefix ?? '', r?.prefix_len ?? 0]),
    direct_source_prefix_ranges: (fm.direct_source_prefix_ranges ?? []).map((r: Plain) => [r?.address_prefix ?? '', r?.prefix_len ?? 0]),
    source_type: sourceTypeOf(fm.source_type, ''),
    source_prefix_ranges: (fm.source_prefix_ranges ?? []).map((r: Plain) => [r?.address_prefix ?? '', r?.prefix_len ?? 0]),
    source_ports: fm.source_ports ?? [],
    server_names: fm.server_names ?? [],
    transport_protocol: fm.transport_protocol ?? '',
    application_protocols: fm.application_protocols ?? [],
  });
}

function getOrAdd<K, V>(m: Map<K, V>, k: K, make: () => V): V {
  let v = m.get(k);
  if (v === undefined) { v = make(); m.set(k, v); }
  return v;
}

function lpmGetOrAdd<V>(t: LpmTable<V>, r: CidrRange, make: () => V): V {
  let v = t.get(r);
  if (v === undefined) { v = make(); t.add(r, v); }
  return v;
}

/** An empty range list means "any address": both 0.0.0.0/0 and ::/0. */
function rangesOrAny(rs: CidrRange[]): CidrRange[] {
  return rs.length ? rs : [CidrRange.any(4), CidrRange.any(6)];
}

/**
 * Compile filter chains into a matcher. Throws ConfigError for invalid matches,
 * for two chains with the same FilterChainMatch, and for overlapping rules.
 */
export function compileFilterChainMatcher<T>(
  entries: ReadonlyArray<FilterChainEntry<T>>,
  defaultValue: T | undefined,
  opts: CompileOptions,
): FilterChainMatcher<T> {
  const base = opts.path ?? 'filter_chains';
  const addr = opts.listenerAddress;
  const ports = new Map<number, DestinationIps<T>>();
  const seen = new Map<string, string>();

  entries.forEach((e, i) => {
    const path = `${base}[${i}].filter_chain_match`;
    const m = normalize(e.match, path, addr);
    const id = matchIdentity(e.match);
    const prev = seen.get(id);
    if (prev !== undefined) {
      throw new ConfigError(path, `error adding listener '${addr}': filter chain '${e.name}' has the same matching rules defined as '${prev}'`);
    }
    seen.set(id, e.name);
    const overlap = () => new ConfigError(path, `error adding listener '${addr}': multiple filter chains with overlapping matching rules are defined`);

    const dstIps = getOrAdd(ports, m.destinationPort, () => new LpmTable<ServerNames<T>>());
    for (const dst of rangesOrAny(m.prefixRanges)) {
      const names = lpmGetOrAdd(dstIps, dst, () => new Map() as ServerNames<T>);
      for (const sn of m.serverNames.length ? m.serverNames : ['']) {
        const transports = getOrAdd(names, sn, () => new Map() as TransportProtocols<T>);
        const apps = getOrAdd(transports, m.transportProtocol, () => new Map() as AppProtocols<T>);
        for (const ap of m.applicationProtocols.length ? m.applicationProtocols : ['']) {
          const direct = getOrAdd(apps, ap, () => new LpmTable<SourceTypes<T>>());
          for (const dsrc of rangesOrAny(m.directSourceRanges)) {
            const types = lpmGetOrAdd(direct, dsrc, () => [undefined, undefined, undefined] as SourceTypes<T>);
            const srcIps = types[m.sourceType] ?? (types[m.sourceType] = new LpmTable<SourcePorts<T>>());
            for (const src of rangesOrAny(m.sourceRanges)) {
              const portsMap = lpmGetOrAdd(srcIps, src, () => new Map<number, T>());
              for (const sp of m.sourcePorts.length ? m.sourcePorts : [0]) {
                if (portsMap.has(sp)) throw overlap();
                portsMap.set(sp, e.value);
              }
            }
          }
        }
      }
    }
  });

  return new FilterChainMatcher(ports, defaultValue);
}

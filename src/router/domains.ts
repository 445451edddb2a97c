// Virtual host selection by :authority, exactly as Envoy's RouteMatcher::findVirtualHost:
//   1. exact domain (Map lookup, lowercased);
//   2. suffix wildcards `*.foo.com` / `*-bar.foo.com` / `*foo.com`, longest first;
//   3. prefix wildcards `foo.*` / `foo-*`, longest first;
//   4. the single `*` default.
// A wildcard never matches an empty remainder (`*.foo.com` does not match `.foo.com`).
// The port is part of the host unless ignore_port_in_host_matching strips it first;
// there is no retry without the port (Envoy does not retry either: Istio lists both
// `host` and `host:port` domains, and the HCM's strip_matching_host_port /
// strip_any_host_port remove the port from :authority before routing).
import { ConfigError } from '../config/errors';
import { asciiLower, hasControlChars } from './matchers';

/** Envoy's HeaderUtility::getPortStart: index of the ':' before the port, or -1 (IPv6-aware). */
export function getPortStart(host: string): number {
  const colon = host.lastIndexOf(':');
  if (colon < 0) return -1;
  const v6End = host.lastIndexOf(']');
  if (v6End < 0 || v6End < colon) return colon;
  return -1;
}

/** host without its port (IPv6 brackets kept), as ignore_port_in_host_matching does. */
export function stripPort(host: string): string {
  const p = getPortStart(host);
  return p < 0 ? host : host.slice(0, p);
}

interface WildcardBucket<T> {
  len: number;
  map: Map<string, T>;
}

export class DomainMatcher<T> {
  private readonly exact = new Map<string, T>();
  private suffixes: WildcardBucket<T>[] = [];
  private prefixes: WildcardBucket<T>[] = [];
  private dflt: T | null = null;

  constructor(readonly ignorePort: boolean, private readonly routeConfigName: string) {}

  /** Add one domain; throws on duplicates with Envoy's message. */
  add(domain: string, value: T, path: string): void {
    if (typeof domain !== 'string' || hasControlChars(domain)) {
      throw new ConfigError(path, `invalid domain "${String(domain)}"`);
    }
    const d = asciiLower(domain);
    let dup = false;
    if (d === '*') {
      if (this.dflt !== null) {
        throw new ConfigError(path, `Only a single wildcard domain is permitted in route ${this.routeConfigName}`);
      }
      this.dflt = value;
    } else if (d.length > 0 && d[0] === '*') {
      dup = !addTo(this.suffixes, d.slice(1), value);
    } else if (d.length > 0 && d[d.length - 1] === '*') {
      dup = !addTo(this.prefixes, d.slice(0, -1), value);
    } else {
      if (this.exact.has(d)) dup = true;
      else this.exact.set(d, value);
    }
    if (dup) {
      throw new ConfigError(path,
        `Only unique values for domains are permitted. Duplicate entry of domain ${d} in route ${this.routeConfigName}`);
    }
  }

  /** Look up an :authority value as received. */
  find(authority: string): T | null {
    if (this.exact.size === 0 && this.suffixes.length === 0 && this.prefixes.length === 0) return this.dflt;
    let host = authority;
    if (this.ignorePort) {
      const p = getPortStart(host);
      if (p >= 0) host = host.slice(0, p);
    }
    host = asciiLower(host);
    const e = this.exact.get(host);
    if (e !== undefined) return e;
    const hl = host.length;
    const sx = this.suffixes;
    for (let i = 0; i < sx.length; i++) {
      const b = sx[i];
      if (b.len >= hl) continue;
      const v = b.map.get(host.slice(hl - b.len));
      if (v !== undefined) return v;
    }
    const px = this.prefixes;
    for (let i = 0; i < px.length; i++) {
      const b = px[i];
      if (b.len >= hl) continue;
      const v = b.map.get(host.slice(0, b.len));
      if (v !== undefined) return v;
    }
    return this.dflt;
  }
}

/** Insert into the bucket list kept sorted by length, longest first. False on duplicate. */
function addTo<T>(buckets: WildcardBucket<T>[], key: string, value: T): boolean {
  let b = buckets.find((x) => x.len === key.length);
  if (!b) {
    b = { len: key.length, map: new Map() };
    buckets.push(b);
    buckets.sort((x, y) => y.len - x.len);
  }
  if (b.map.has(key)) return false;
  b.map.set(key, value);
  return true;
}

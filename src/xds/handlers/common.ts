// Shared pieces of the xDS resource handlers: NACK messages naming the resource and field,
// duplicate-name checks, reference-counted subscriptions, initial-fetch timers.
import { ConfigError } from '../../config/errors';
import type { Logger } from '../../server/context';
import type { DecodedResource, XdsClient } from '../types';

/** proto3 JSON of a resource for /config_dump, built on demand (DecodedResource.json may be lazy). */
export type JsonSource = () => object | undefined;

/** Keep a DecodedResource's json lazy: read it only when /config_dump asks. */
export function jsonOf(r: { json: object }): JsonSource {
  return () => r.json;
}

/** The error a handler throws to NACK: `<Kind> "<name>": <path>: <detail>`. */
export class XdsRejection extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XdsRejection';
  }
}

/** Wrap anything thrown while validating one resource into a NACK naming it. */
export function rejectResource(kind: string, name: string, e: unknown, pathPrefix = ''): XdsRejection {
  if (e instanceof XdsRejection) return e;
  let path = '';
  let detail: string;
  if (e instanceof ConfigError) {
    path = e.path;
    detail = e.detail;
  } else {
    const err = e as Error & { path?: unknown };
    detail = err instanceof Error ? err.message : String(e);
    if (err && typeof err.path === 'string' && detail.startsWith(err.path + ': ')) {
      path = err.path;
      detail = detail.slice(err.path.length + 2);
    }
  }
  if (pathPrefix) path = path ? (path.startsWith('[') ? pathPrefix + path : `${pathPrefix}.${path}`) : pathPrefix;
  return new XdsRejection(`${kind} "${name}": ${path ? path + ': ' : ''}${detail}`);
}

/** NACK when two resources of one response share a name (xDS: duplicate names are an error). */
export function checkDuplicates(kind: string, resources: readonly DecodedResource[]): void {
  const seen = new Set<string>();
  for (const r of resources) {
    if (seen.has(r.name)) throw new XdsRejection(`${kind} "${r.name}": duplicate resource name in one response`);
    seen.add(r.name);
  }
}

/**
 * Reference-counted subscription to named resources of one type. ref()/unref() only count;
 * the resulting subscribe/unsubscribe calls are made once per turn of the event loop (so a
 * resource dropped and re-added within one update, or a subscription made while a response
 * is being applied, causes no churn, and the ACK of that response goes out first, as with
 * Envoy's paused EDS/RDS requests during CDS/LDS updates).
 */
export class NamedSubscriptions {
  private readonly refs = new Map<string, number>();
  private readonly subscribed = new Set<string>();
  private client: XdsClient | null = null;
  private scheduled: NodeJS.Immediate | undefined;

  constructor(readonly typeUrl: string, private readonly log?: Logger) {}

  attach(client: XdsClient | null): void {
    this.client = client;
    this.schedule();
  }

  ref(name: string): void {
    this.refs.set(name, (this.refs.get(name) ?? 0) + 1);
    this.schedule();
  }

  unref(name: string): void {
    const n = (this.refs.get(name) ?? 0) - 1;
    if (n <= 0) this.refs.delete(name); else this.refs.set(name, n);
    this.schedule();
  }

  /** Somebody holds a reference. */
  has(name: string): boolean { return this.refs.has(name); }

  /** Every referenced name. */
  names(): string[] { return [...this.refs.keys()]; }

  private schedule(): void {
    if (this.scheduled || !this.client) return;
    this.scheduled = setImmediate(() => { this.scheduled = undefined; this.flush(); });
  }

  /** Send the pending subscribe/unsubscribe now. */
  flush(): void {
    if (this.scheduled) { clearImmediate(this.scheduled); this.scheduled = undefined; }
    const client = this.client;
    if (!client) return;
    const add: string[] = [];
    const del: string[] = [];
    for (const n of this.refs.keys()) if (!this.subscribed.has(n)) add.push(n);
    for (const n of this.subscribed) if (!this.refs.has(n)) del.push(n);
    for (const n of add) this.subscribed.add(n);
    for (const n of del) this.subscribed.delete(n);
    try {
      if (add.length) client.subscribe(this.typeUrl, add);
      if (del.length) client.unsubscribe(this.typeUrl, del);
    } catch (e) {
      this.log?.error(`xds: ${this.typeUrl}: subscription change failed: ${(e as Error).message}`);
    }
  }

  stop(): void {
    if (this.scheduled) { clearImmediate(this.scheduled); this.scheduled = undefined; }
    this.client = null;
  }
}

/** ConfigSource.initial_fetch_timeout in ms (plain form); Envoy's default is 15 s, 0 = wait forever. */
export function initialFetchTimeoutMs(configSource: { initial_fetch_timeout?: number } | undefined): number {
  const v = configSource?.initial_fetch_timeout;
  return typeof v === 'number' && v >= 0 ? v : 15000;
}

/** An unref'd timer, or undefined for 0 (wait forever). */
export function fetchTimer(ms: number, fn: () => void): NodeJS.Timeout | undefined {
  if (!(ms > 0)) return undefined;
  const t = setTimeout(fn, ms);
  t.unref();
  return t;
}

/** A stable fingerprint of a plain config (Buffers included), to skip identical updates. */
export function fingerprint(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x) => (x && typeof x === 'object' && (x as { type?: string }).type === 'Buffer' && Array.isArray((x as { data?: unknown }).data)
      ? 'b64:' + Buffer.from((x as { data: number[] }).data).toString('base64') : typeof x === 'bigint' ? String(x) : x));
  } catch {
    return `unserializable:${Math.random()}`;
  }
}

/** Envoy's `version` gauge holds a hash of version_info; this is a 52-bit FNV-1a (fits a JS number). */
export function versionHash(v: string): number {
  if (v === '') return 0;
  let h1 = 0x811c9dc5, h2 = 0x01000193;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) >>> 0;
  }
  return (h2 & 0xfffff) * 0x100000000 + h1;
}

/** Names of the records that are warming (CDS and LDS share this bookkeeping). */
export function warmingNamesOf(records: ReadonlyMap<string, { name: string; warming?: unknown }>): string[] {
  const out: string[] = [];
  for (const r of records.values()) if (r.warming) out.push(r.name);
  return out;
}

// A real xDS management server on @grpc/grpc-js, for tests and the demo: serves
// AggregatedDiscoveryService (StreamAggregatedResources + DeltaAggregatedResources) and the
// per-type discovery services (StreamListeners/DeltaListeners, ...) on 127.0.0.1:<port> or a
// unix socket. Resources are given as proto3 JSON (encoded with src/config/json.ts fromJSON
// over the real Envoy protos) or as messages, and packed into Anys.
//
// SotW: LDS/CDS responses carry the full set, other types the subscribed named resources;
// a request whose response_nonce is not the latest one sent for its type is stale and
// ignored (xds_protocol.rst). Delta: per-stream diffs against what the client holds
// (initial_resource_versions, then what was sent), removed_resources for deletions and for
// subscribed names that do not exist.
//
// Observation for tests: `requests` (every request, with stale marking), `responses`,
// waitForAck / waitForNack / waitForRequest. Failure injection: setRaw / sendResponse
// (hand-made, possibly invalid responses), sendGarbage, disconnectAll, stall.
import * as fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type * as protobuf from 'protobufjs';
import { fromJSON } from '../../config/json';
import { lookupType } from '../../config/protos';
import {
  RESOURCE_WRAPPER_URL, SERVICES, discoveryTypes, encodeMessage, isFullStateType, kindOf, msDuration, type XdsService,
} from '../protocol';

export interface ResourceInput {
  /** Resource name; derived from the message (`name`, or `cluster_name` for ClusterLoadAssignment) when absent. */
  name?: string;
  /** proto3 JSON of the resource, with or without '@type'. */
  json?: object;
  /** Or a protobufjs message / plain object with proto field names. */
  message?: object;
  /** Resource TTL: SotW wraps the resource in envoy.service.discovery.v3.Resource. */
  ttlMs?: number;
}

export interface PackedAny {
  type_url: string;
  value: Uint8Array;
}

export interface RequestLog {
  /** Sequence number of the request (its index in `requests` until the log is trimmed). */
  index: number;
  stream: number;
  delta: boolean;
  service: XdsService;
  typeUrl: string;
  /** SotW version_info ('' for delta). */
  versionInfo: string;
  responseNonce: string;
  /** SotW resource_names. */
  resourceNames: string[];
  /** Delta resource_names_subscribe / unsubscribe / initial_resource_versions. */
  subscribe: string[];
  unsubscribe: string[];
  initialResourceVersions: Record<string, string>;
  errorDetail?: { code: number; message: string };
  /** The request carried a node. */
  hasNode: boolean;
  /** SotW: the nonce was not the latest sent for the type on the stream (ignored). */
  stale: boolean;
  time: number;
}

export interface ResponseLog {
  stream: number;
  delta: boolean;
  typeUrl: string;
  nonce: string;
  /** version_info / system_version_info. */
  version: string;
  names: string[];
  removed: string[];
}

export interface StreamInfo {
  id: number;
  delta: boolean;
  service: XdsService;
  node: Record<string, unknown> | undefined;
  subscriptions: Array<{ typeUrl: string; wildcard: boolean; names: string[] }>;
}

export interface ControlPlaneOptions {
  /** "127.0.0.1:0" (default), "127.0.0.1:<port>", or "unix:/path". */
  address?: string;
  /** Push to connected streams on every change (default true). */
  autoPush?: boolean;
  /** Enforce PGV rules when encoding JSON resources (default false: the client validates). */
  validate?: boolean;
  credentials?: grpc.ServerCredentials;
  /** Debug log sink. */
  log?: (line: string) => void;
  /**
   * Most requests/responses kept for observation (default 100000); beyond it the older half
   * is dropped, so a long-running demo does not grow without bound.
   */
  logLimit?: number;
}

interface Stored {
  name: string;
  any: PackedAny;
  /** Per-resource version (changes only when the bytes change). */
  version: string;
  ttlMs?: number;
}

interface TypeStore {
  version: string;
  resources: Map<string, Stored>;
}

interface Sub {
  wildcard: boolean;
  names: Set<string>;
  /** SotW: a non-empty resource_names was seen (an empty list then means unsubscribe-all). */
  explicit: boolean;
  /** Last nonce sent for this type on the stream. */
  lastNonce: string;
  // SotW
  sentVersion: string | undefined;
  sentNames: string;
  // delta
  first: boolean;
  known: Map<string, string>;
  toldMissing: Set<string>;
}

interface CPStream {
  id: number;
  delta: boolean;
  service: XdsService;
  call: grpc.ServerDuplexStream<Buffer, unknown>;
  node: Record<string, unknown> | undefined;
  subs: Map<string, Sub>;
  closed: boolean;
}

type Waiter = () => void;

function sameSet(a: Set<string>, b: Set<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

export class TestControlPlane {
  readonly requests: RequestLog[] = [];
  readonly responses: ResponseLog[] = [];
  private readonly server = new grpc.Server({ 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 });
  private readonly store = new Map<string, TypeStore>();
  private readonly streams = new Set<CPStream>();
  private readonly waiters = new Set<Waiter>();
  private readonly nackCursor = new Map<string, number>();
  private readonly autoPush: boolean;
  private readonly validate: boolean;
  private readonly logLimit: number;
  /** Requests dropped from the front of `requests` by trimming. */
  private dropped = 0;
  private versionCounter = 0;
  private nonceCounter = 0;
  private streamCounter = 0;
  private stalledUntil = 0;
  private stallTimer: NodeJS.Timeout | undefined;
  private started = false;
  private stopped = false;
  private address = '';

  constructor(private readonly opts: ControlPlaneOptions = {}) {
    this.autoPush = opts.autoPush !== false;
    this.validate = opts.validate === true;
    this.logLimit = Math.max(10, opts.logLimit ?? 100000);
    this.addServices();
  }

  /** Bind and serve. Resolves with the bound port (0 for a unix socket) and the client target. */
  start(): Promise<{ port: number; target: string }> {
    const address = this.opts.address ?? '127.0.0.1:0';
    if (address.startsWith('unix:')) {
      const p = address.slice('unix:'.length).replace(/^\/\/(?=\/)/, '');
      try {
        if (fs.statSync(p).isSocket()) fs.unlinkSync(p);
      } catch {
        /* not there */
      }
    }
    return new Promise((resolve, reject) => {
      this.server.bindAsync(address, this.opts.credentials ?? grpc.ServerCredentials.createInsecure(), (err, port) => {
        if (err) {
          reject(err);
          return;
        }
        this.started = true;
        this.address = address.startsWith('unix:') ? address : address.replace(/:0$/, ':' + port);
        resolve({ port: address.startsWith('unix:') ? 0 : port, target: this.address });
      });
    });
  }

  /** The client target ("127.0.0.1:<port>" or "unix:/path"). */
  get target(): string {
    return this.address;
  }

  /** Stop serving: every stream ends (the client sees UNAVAILABLE/CANCELLED and reconnects). */
  stop(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.stopped = true;
    if (this.stallTimer) clearTimeout(this.stallTimer);
    for (const st of this.streams) this.endStream(st, grpc.status.UNAVAILABLE, 'control plane stopped');
    this.streams.clear();
    this.server.forceShutdown();
    this.notify();
    return Promise.resolve();
  }

  // ---- resources ---------------------------------------------------------------------

  /** Replace the whole set of a type (a snapshot). `version` defaults to a new counter value. */
  setResources(typeUrl: string, resources: ResourceInput[], version?: string): string {
    const packed = resources.map((r, i) => this.pack(typeUrl, r, i));
    const ts = this.typeStore(typeUrl);
    const v = version ?? this.nextVersion();
    const next = new Map<string, Stored>();
    for (const p of packed) next.set(p.name, this.versioned(ts.resources.get(p.name), p, v));
    ts.resources = next;
    ts.version = v;
    if (this.autoPush) this.push();
    return v;
  }

  /** Add or replace some resources of a type, keeping the others. */
  upsertResources(typeUrl: string, resources: ResourceInput[], version?: string): string {
    const packed = resources.map((r, i) => this.pack(typeUrl, r, i));
    const ts = this.typeStore(typeUrl);
    const v = version ?? this.nextVersion();
    for (const p of packed) ts.resources.set(p.name, this.versioned(ts.resources.get(p.name), p, v));
    ts.version = v;
    if (this.autoPush) this.push();
    return v;
  }

  /** Remove resources of a type by name. */
  removeResources(typeUrl: string, names: string[], version?: string): string {
    const ts = this.typeStore(typeUrl);
    const v = version ?? this.nextVersion();
    for (const n of names) ts.resources.delete(n);
    ts.version = v;
    if (this.autoPush) this.push();
    return v;
  }

  /** Current version of a type ('' when never set). */
  version(typeUrl: string): string {
    return this.store.get(typeUrl)?.version ?? '';
  }

  resourceNames(typeUrl: string): string[] {
    return [...(this.store.get(typeUrl)?.resources.keys() ?? [])];
  }

  private typeStore(typeUrl: string): TypeStore {
    let ts = this.store.get(typeUrl);
    if (!ts) {
      ts = { version: '', resources: new Map() };
      this.store.set(typeUrl, ts);
    }
    return ts;
  }

  private nextVersion(): string {
    return String(++this.versionCounter);
  }

  private versioned(prev: Stored | undefined, p: Omit<Stored, 'version'>, v: string): Stored {
    const same = prev && Buffer.compare(Buffer.from(prev.any.value), Buffer.from(p.any.value)) === 0 && prev.ttlMs === p.ttlMs;
    return { ...p, version: same ? (prev as Stored).version : v };
  }

  private pack(typeUrl: string, r: ResourceInput, i: number): Omit<Stored, 'version'> {
    const type = lookupType(typeUrl);
    if (!type) throw new Error(`unknown type ${typeUrl}`);
    let msg: object;
    if (r.json !== undefined) {
      const body: Record<string, unknown> = { ...(r.json as Record<string, unknown>) };
      const at = body['@type'];
      if (at !== undefined && at !== typeUrl && at !== type.fullName.replace(/^\./, '')) {
        throw new Error(`resource #${i}: "@type" ${String(at)} is not ${typeUrl}`);
      }
      delete body['@type'];
      msg = fromJSON(typeUrl, body, `${kindOf(typeUrl)}[${i}]`, { validate: this.validate });
    } else if (r.message !== undefined) {
      msg = r.message;
    } else throw new Error(`resource #${i}: give json or message`);
    const value = encodeMessage(type, msg);
    const m = msg as Record<string, unknown>;
    const name = r.name ?? (typeof m.name === 'string' && m.name ? m.name : typeof m.cluster_name === 'string' ? m.cluster_name : '');
    return { name, any: { type_url: typeUrl, value }, ttlMs: r.ttlMs };
  }

  // ---- pushing -----------------------------------------------------------------------

  /** Send every stream what changed for its subscriptions. */
  push(): void {
    if (this.isStalled()) return;
    for (const st of this.streams) {
      for (const typeUrl of st.subs.keys()) this.pushType(st, typeUrl);
    }
  }

  private isStalled(): boolean {
    return Date.now() < this.stalledUntil;
  }

  /** Answer nothing for `ms` (requests are still logged), then push what is due. */
  stall(ms: number): void {
    this.stalledUntil = Date.now() + ms;
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = setTimeout(() => {
      this.stallTimer = undefined;
      this.stalledUntil = 0;
      if (!this.stopped) this.push();
    }, ms);
  }

  private pushType(st: CPStream, typeUrl: string): void {
    if (st.closed || this.isStalled()) return;
    const ts = this.store.get(typeUrl);
    const sub = st.subs.get(typeUrl);
    if (!ts || !sub) return;
    if (st.delta) this.pushDelta(st, typeUrl, ts, sub);
    else this.pushSotw(st, typeUrl, ts, sub);
  }

  private inScope(sub: Sub, ts: TypeStore): Stored[] {
    const out: Stored[] = [];
    if (sub.wildcard) {
      for (const r of ts.resources.values()) out.push(r);
    } else {
      for (const n of sub.names) {
        const r = ts.resources.get(n);
        if (r) out.push(r);
      }
    }
    return out;
  }

  private pushSotw(st: CPStream, typeUrl: string, ts: TypeStore, sub: Sub): void {
    if (!sub.wildcard && sub.names.size === 0) return;
    const namesKey = (sub.wildcard ? '*,' : '') + [...sub.names].sort().join(',');
    if (sub.sentVersion === ts.version && sub.sentNames === namesKey) return;
    const list = this.inScope(sub, ts);
    if (!isFullStateType(typeUrl) && list.length === 0) return;
    const resources = list.map((r) => this.sotwAny(r));
    this.sendSotw(st, sub, typeUrl, ts.version, resources, list.map((r) => r.name));
    sub.sentVersion = ts.version;
    sub.sentNames = namesKey;
  }

  private sotwAny(r: Stored): PackedAny {
    if (r.ttlMs === undefined) return r.any;
    const value = encodeMessage(discoveryTypes().Resource, { name: r.name, version: r.version, resource: r.any, ttl: msDuration(r.ttlMs) });
    return { type_url: RESOURCE_WRAPPER_URL, value };
  }

  private sendSotw(st: CPStream, sub: Sub, typeUrl: string, version: string, resources: PackedAny[], names: string[]): string {
    const nonce = this.nextNonce();
    sub.lastNonce = nonce;
    this.write(st, { version_info: version, resources, type_url: typeUrl, nonce });
    this.responses.push({ stream: st.id, delta: false, typeUrl, nonce, version, names, removed: [] });
    this.opts.log?.(`stream ${st.id} <- ${kindOf(typeUrl)} v${version} nonce ${nonce} [${names.join(',')}]`);
    return nonce;
  }

  private pushDelta(st: CPStream, typeUrl: string, ts: TypeStore, sub: Sub): void {
    const resources: object[] = [];
    const names: string[] = [];
    const removed: string[] = [];
    const scope = new Set<string>(sub.names);
    if (sub.wildcard) for (const n of ts.resources.keys()) scope.add(n);
    for (const n of scope) {
      const r = ts.resources.get(n);
      if (r) {
        if (sub.known.get(n) !== r.version) {
          resources.push(this.deltaResource(r));
          names.push(n);
          sub.known.set(n, r.version);
        }
        sub.toldMissing.delete(n);
      } else if (sub.known.has(n)) {
        removed.push(n);
        sub.known.delete(n);
      } else if (sub.names.has(n) && !sub.toldMissing.has(n)) {
        removed.push(n);
        sub.toldMissing.add(n);
      }
    }
    for (const n of [...sub.known.keys()]) {
      if (!scope.has(n)) {
        // the client holds something out of scope (e.g. initial_resource_versions of a deleted resource)
        if (!ts.resources.has(n)) removed.push(n);
        sub.known.delete(n);
      }
    }
    if (resources.length === 0 && removed.length === 0) return;
    this.sendDelta(st, sub, typeUrl, ts.version, resources, names, removed);
  }

  private deltaResource(r: Stored, withBody = true): object {
    const out: Record<string, unknown> = { name: r.name, version: r.version };
    if (withBody) out.resource = r.any;
    if (r.ttlMs !== undefined) out.ttl = msDuration(r.ttlMs);
    return out;
  }

  private sendDelta(st: CPStream, sub: Sub, typeUrl: string, version: string, resources: object[], names: string[], removed: string[]): string {
    const nonce = this.nextNonce();
    sub.lastNonce = nonce;
    this.write(st, { system_version_info: version, resources, type_url: typeUrl, removed_resources: removed, nonce });
    this.responses.push({ stream: st.id, delta: true, typeUrl, nonce, version, names, removed });
    this.opts.log?.(`stream ${st.id} <- delta ${kindOf(typeUrl)} v${version} nonce ${nonce} +[${names.join(',')}] -[${removed.join(',')}]`);
    return nonce;
  }

  private nextNonce(): string {
    return 'n' + ++this.nonceCounter;
  }

  private write(st: CPStream, msg: object | Buffer): void {
    if (st.closed) return;
    try {
      st.call.write(msg);
    } catch {
      st.closed = true;
    }
  }

  /**
   * TTL heartbeat: resend the named resources without a body at their current version
   * (SotW: LDS/CDS carry the other resources in full, as the full state requires).
   */
  heartbeat(typeUrl: string, names: string[]): void {
    const ts = this.store.get(typeUrl);
    if (!ts) return;
    const hb = new Set(names);
    for (const st of this.streams) {
      const sub = st.subs.get(typeUrl);
      if (!sub || st.closed) continue;
      const list = this.inScope(sub, ts);
      if (st.delta) {
        const rs = list.filter((r) => hb.has(r.name));
        if (rs.length) this.sendDelta(st, sub, typeUrl, ts.version, rs.map((r) => this.deltaResource(r, false)), rs.map((r) => r.name), []);
        continue;
      }
      const full = isFullStateType(typeUrl);
      const chosen = full ? list : list.filter((r) => hb.has(r.name));
      if (!chosen.length) continue;
      const T = discoveryTypes();
      const anys = chosen.map((r) => {
        if (!hb.has(r.name)) return this.sotwAny(r);
        const w: Record<string, unknown> = { name: r.name, version: ts.version };
        if (r.ttlMs !== undefined) w.ttl = msDuration(r.ttlMs);
        return { type_url: RESOURCE_WRAPPER_URL, value: encodeMessage(T.Resource, w) };
      });
      this.sendSotw(st, sub, typeUrl, ts.version, anys, chosen.map((r) => r.name));
    }
  }

  /**
   * Send hand-made Anys (possibly invalid) to every stream subscribed to the type, once.
   * SotW: as the resources of a response; delta: each wrapped in a Resource named names[i]
   * (default "raw-<i>"). Returns the nonces sent.
   */
  setRaw(typeUrl: string, anys: PackedAny[], opts: { names?: string[]; version?: string } = {}): string[] {
    const version = opts.version ?? this.nextVersion();
    const nonces: string[] = [];
    for (const st of this.streams) {
      const sub = st.subs.get(typeUrl);
      if (!sub || st.closed) continue;
      if (st.delta) {
        const rs = anys.map((a, i) => ({ name: opts.names?.[i] ?? `raw-${i}`, version, resource: a }));
        nonces.push(this.sendDelta(st, sub, typeUrl, version, rs, rs.map((r) => r.name), []));
      } else {
        nonces.push(this.sendSotw(st, sub, typeUrl, version, anys, opts.names ?? []));
      }
    }
    return nonces;
  }

  /**
   * Send a hand-made response (plain object with proto field names: DiscoveryResponse for
   * SotW streams, DeltaDiscoveryResponse for delta streams) to every stream of that kind
   * subscribed to its type_url (with `anyStream`, to every stream of that kind, subscribed
   * or not). A missing nonce is filled in. Returns the nonces sent.
   */
  sendResponse(resp: Record<string, unknown>, kind: 'sotw' | 'delta', opts: { anyStream?: boolean } = {}): string[] {
    const typeUrl = String(resp.type_url ?? '');
    const nonces: string[] = [];
    for (const st of this.streams) {
      if (st.closed || st.delta !== (kind === 'delta')) continue;
      const sub = st.subs.get(typeUrl);
      if (!sub && !opts.anyStream) continue;
      const nonce = typeof resp.nonce === 'string' && resp.nonce ? resp.nonce : this.nextNonce();
      if (sub) sub.lastNonce = nonce;
      this.write(st, { ...resp, nonce });
      const version = String((kind === 'delta' ? resp.system_version_info : resp.version_info) ?? '');
      this.responses.push({ stream: st.id, delta: st.delta, typeUrl, nonce, version, names: [], removed: [] });
      nonces.push(nonce);
    }
    return nonces;
  }

  /** Send bytes that are not a valid (Delta)DiscoveryResponse on every stream. */
  sendGarbage(): void {
    // field 1000 with wire type 7 (there is no such wire type): every protobuf decoder fails
    const garbage = Buffer.from([0xc7, 0x3e, 0x01, 0x02]);
    for (const st of this.streams) this.write(st, garbage);
  }

  /** End every stream with UNAVAILABLE (clients reconnect). */
  disconnectAll(): void {
    for (const st of [...this.streams]) this.endStream(st, grpc.status.UNAVAILABLE, 'disconnected by the test control plane');
    this.streams.clear();
  }

  private endStream(st: CPStream, code: grpc.status, details: string): void {
    if (st.closed) return;
    st.closed = true;
    try {
      st.call.emit('error', { code, details, name: 'Error', message: details });
    } catch {
      /* already gone */
    }
  }

  // ---- observation -------------------------------------------------------------------

  connectedStreams(): StreamInfo[] {
    const out: StreamInfo[] = [];
    for (const st of this.streams) {
      if (st.closed) continue;
      out.push({
        id: st.id,
        delta: st.delta,
        service: st.service,
        node: st.node,
        subscriptions: [...st.subs].map(([typeUrl, s]) => ({ typeUrl, wildcard: s.wildcard, names: [...s.names].sort() })),
      });
    }
    return out;
  }

  /** Requests logged so far (including any trimmed away); pass it as `from` to wait for later ones. */
  requestCount(): number {
    return this.dropped + this.requests.length;
  }

  /** Resolve when a request satisfying pred is logged with sequence number >= `from`. */
  waitForRequest(pred: (r: RequestLog) => boolean, timeoutMs = 5000, from = 0): Promise<RequestLog> {
    return this.waitFor(() => {
      for (let i = Math.max(0, from - this.dropped); i < this.requests.length; i++) if (pred(this.requests[i])) return this.requests[i];
      return undefined;
    }, timeoutMs, 'request');
  }

  /** Resolve when the client ACKed a response of this type carrying `version`. */
  waitForAck(typeUrl: string, version: string, timeoutMs = 5000): Promise<RequestLog> {
    return this.waitFor(() => {
      for (const r of this.requests) {
        if (r.typeUrl !== typeUrl || r.errorDetail || !r.responseNonce) continue;
        const resp = this.responseFor(r.stream, r.responseNonce);
        if (resp && resp.typeUrl === typeUrl && resp.version === version) return r;
      }
      return undefined;
    }, timeoutMs, `ACK of ${kindOf(typeUrl)} version ${version}`);
  }

  /** Resolve with the error_detail of the next NACK of this type not returned before. */
  async waitForNack(typeUrl: string, timeoutMs = 5000): Promise<{ code: number; message: string; request: RequestLog }> {
    const r = await this.waitFor(() => {
      const from = this.nackCursor.get(typeUrl) ?? 0;
      for (let i = Math.max(0, from - this.dropped); i < this.requests.length; i++) {
        const q = this.requests[i];
        if (q.typeUrl === typeUrl && q.errorDetail) return q;
      }
      return undefined;
    }, timeoutMs, `NACK of ${kindOf(typeUrl)}`);
    this.nackCursor.set(typeUrl, r.index + 1);
    return { ...(r.errorDetail as { code: number; message: string }), request: r };
  }

  /** The response a nonce belongs to on a stream. */
  responseFor(stream: number, nonce: string): ResponseLog | undefined {
    for (let i = this.responses.length - 1; i >= 0; i--) {
      const r = this.responses[i];
      if (r.stream === stream && r.nonce === nonce) return r;
    }
    return undefined;
  }

  /** Poll-free wait: re-evaluated on every request and stream change; rejects after timeoutMs. */
  waitFor<T>(get: () => T | undefined, timeoutMs: number, what = 'condition'): Promise<T> {
    const now = get();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const w: Waiter = () => {
        const v = get();
        if (v === undefined) return;
        this.waiters.delete(w);
        clearTimeout(timer);
        resolve(v);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.waiters.add(w);
    });
  }

  private trimLogs(): void {
    if (this.requests.length >= this.logLimit) {
      const n = Math.floor(this.logLimit / 2);
      this.requests.splice(0, n);
      this.dropped += n;
    }
    if (this.responses.length >= this.logLimit) this.responses.splice(0, Math.floor(this.logLimit / 2));
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  // ---- gRPC services -----------------------------------------------------------------

  private addServices(): void {
    const T = discoveryTypes();
    const passthrough = (b: Buffer): Buffer => b;
    const ser = (type: protobuf.Type) => (m: unknown): Buffer => (Buffer.isBuffer(m) ? m : encodeMessage(type, m as object));
    for (const service of Object.keys(SERVICES) as XdsService[]) {
      const info = SERVICES[service];
      const def: grpc.ServiceDefinition = {
        [info.sotw]: {
          path: `/${info.service}/${info.sotw}`,
          requestStream: true,
          responseStream: true,
          requestSerialize: passthrough,
          requestDeserialize: passthrough,
          responseSerialize: ser(T.DiscoveryResponse),
          responseDeserialize: passthrough,
        },
        [info.delta]: {
          path: `/${info.service}/${info.delta}`,
          requestStream: true,
          responseStream: true,
          requestSerialize: passthrough,
          requestDeserialize: passthrough,
          responseSerialize: ser(T.DeltaDiscoveryResponse),
          responseDeserialize: passthrough,
        },
      };
      const impl: grpc.UntypedServiceImplementation = {
        [info.sotw]: (call: grpc.ServerDuplexStream<Buffer, unknown>) => this.onStream(call, service, false),
        [info.delta]: (call: grpc.ServerDuplexStream<Buffer, unknown>) => this.onStream(call, service, true),
      };
      this.server.addService(def, impl);
    }
  }

  private onStream(call: grpc.ServerDuplexStream<Buffer, unknown>, service: XdsService, delta: boolean): void {
    const st: CPStream = { id: ++this.streamCounter, delta, service, call, node: undefined, subs: new Map(), closed: false };
    if (this.stopped) {
      this.endStream(st, grpc.status.UNAVAILABLE, 'control plane stopped');
      return;
    }
    this.streams.add(st);
    this.opts.log?.(`stream ${st.id} opened (${service}, ${delta ? 'delta' : 'sotw'})`);
    const close = (): void => {
      if (!this.streams.delete(st)) return;
      st.closed = true;
      this.notify();
    };
    call.on('data', (buf: Buffer) => this.onRequest(st, buf));
    call.on('end', () => {
      close();
      try {
        call.end();
      } catch {
        /* gone */
      }
    });
    call.on('cancelled', close);
    call.on('close', close);
    call.on('error', close);
    this.notify();
  }

  private onRequest(st: CPStream, buf: Buffer): void {
    if (st.closed) return;
    const T = discoveryTypes();
    let req: Record<string, unknown>;
    try {
      req = (st.delta ? T.DeltaDiscoveryRequest : T.DiscoveryRequest).decode(buf) as unknown as Record<string, unknown>;
    } catch (e) {
      this.opts.log?.(`stream ${st.id}: undecodable request: ${(e as Error).message}`);
      return;
    }
    const typeUrl = String(req.type_url || SERVICES[st.service].typeUrl || '');
    if (req.node && !st.node) st.node = T.Node.toObject(req.node as protobuf.Message, { longs: String, defaults: false }) as Record<string, unknown>;
    const ed = req.error_detail as { code?: number; message?: string } | null | undefined;
    let sub = st.subs.get(typeUrl);
    if (!sub) {
      sub = { wildcard: false, names: new Set(), explicit: false, lastNonce: '', sentVersion: undefined, sentNames: '', first: true, known: new Map(), toldMissing: new Set() };
      st.subs.set(typeUrl, sub);
    }
    const nonce = String(req.response_nonce ?? '');
    this.trimLogs();
    const entry: RequestLog = {
      index: this.dropped + this.requests.length,
      stream: st.id,
      delta: st.delta,
      service: st.service,
      typeUrl,
      versionInfo: String(req.version_info ?? ''),
      responseNonce: nonce,
      resourceNames: st.delta ? [] : [...((req.resource_names as string[]) ?? [])],
      subscribe: st.delta ? [...((req.resource_names_subscribe as string[]) ?? [])] : [],
      unsubscribe: st.delta ? [...((req.resource_names_unsubscribe as string[]) ?? [])] : [],
      initialResourceVersions: st.delta ? { ...((req.initial_resource_versions as Record<string, string>) ?? {}) } : {},
      hasNode: !!req.node,
      stale: false,
      time: Date.now(),
    };
    if (ed) entry.errorDetail = { code: Number(ed.code ?? 0), message: String(ed.message ?? '') };
    if (st.delta) this.deltaRequest(st, sub, typeUrl, entry);
    else this.sotwRequest(st, sub, typeUrl, entry);
    this.opts.log?.(`stream ${st.id} -> ${kindOf(typeUrl)} nonce=${nonce}${entry.errorDetail ? ' NACK ' + entry.errorDetail.message : ''}${entry.stale ? ' (stale)' : ''}`);
    this.notify();
  }

  private sotwRequest(st: CPStream, sub: Sub, typeUrl: string, entry: RequestLog): void {
    entry.stale = entry.responseNonce !== '' && entry.responseNonce !== sub.lastNonce;
    this.requests.push(entry);
    if (entry.stale) return; // xds_protocol.rst: no response for a request with a stale nonce
    const names = entry.resourceNames;
    if (names.length === 0) {
      if (!sub.explicit) sub.wildcard = true; // legacy wildcard
      else {
        sub.wildcard = false;
        sub.names.clear();
      }
    } else {
      sub.explicit = true;
      sub.wildcard = names.includes('*');
      sub.names = new Set(names.filter((n) => n !== '*'));
    }
    this.pushType(st, typeUrl);
  }

  private deltaRequest(st: CPStream, sub: Sub, typeUrl: string, entry: RequestLog): void {
    this.requests.push(entry);
    const first = sub.first;
    sub.first = false;
    if (first) {
      for (const k of Object.keys(entry.initialResourceVersions)) sub.known.set(k, entry.initialResourceVersions[k]);
      if (entry.subscribe.length === 0 && entry.unsubscribe.length === 0) sub.wildcard = true; // legacy wildcard
    }
    for (const n of entry.subscribe) {
      if (n === '*') sub.wildcard = true;
      else {
        sub.names.add(n);
        sub.toldMissing.delete(n);
        // a (re)subscribed name must be sent again, unless the client just told us its version
        if (!(first && n in entry.initialResourceVersions)) sub.known.delete(n);
      }
    }
    for (const n of entry.unsubscribe) {
      if (n === '*') sub.wildcard = false;
      else {
        sub.names.delete(n);
        sub.toldMissing.delete(n);
        if (!sub.wildcard) sub.known.delete(n);
      }
    }
    if (!sub.wildcard) for (const n of [...sub.known.keys()]) if (!sub.names.has(n)) sub.known.delete(n);
    this.pushType(st, typeUrl);
  }
}

// The xDS client: one instance = one gRPC stream to one discovery service.
//   AdsClient            AggregatedDiscoveryService (StreamAggregatedResources / DeltaAggregatedResources)
//   GrpcXdsClient        any service; `service: 'clusters'` etc. for api_config_source without ADS
//                        (ClusterDiscoveryService.StreamClusters / DeltaClusters, ...)
// Protocol as in Envoy's xds_protocol.rst and its GrpcMux:
//  - SotW: per type version_info + nonce. ACK = version_info of the response + response_nonce;
//    NACK = last accepted version_info + response_nonce + error_detail (code 13 INTERNAL, as Envoy).
//    Every request carries the type's current resource_names (a pure wildcard subscription
//    sends the legacy empty list until names were sent explicitly on the stream, then "*").
//    LDS/CDS responses are full state: `removed` = accepted names the response lacks.
//  - Delta: resource_names_subscribe/unsubscribe diffs, initial_resource_versions on each
//    new stream, removed_resources, per-resource versions, ACK/NACK by nonce.
//  - Resources: each Any must carry the response's type URL (or be a
//    envoy.service.discovery.v3.Resource wrapper in SotW); decoded + PGV-validated into plain
//    form; any error NACKs the whole response naming the resource, without calling the handler.
//    Duplicate names NACK. Resources that are not subscribed (non-wildcard types) are ignored.
//  - handler.apply() runs synchronously; a throw NACKs with its message.
//  - TTL (Resource.ttl): expiry calls handler.onExpired; a heartbeat (no body, same version)
//    only refreshes the TTL.
//  - The stream reconnects with jittered exponential backoff (500 ms .. 30 s), resending every
//    subscription with the last accepted versions; serving continues meanwhile. Nothing the
//    control plane sends can throw out of the client: an undecodable message resets the stream.
// Events (EventEmitter): 'connected'; 'disconnected' ({code, details}); 'accepted' (typeUrl,
// version, nonce); 'rejected' (typeUrl, nonce, error); 'expired' (typeUrl, names);
// 'initialFetchDone' (typeUrl, 'accepted' | 'rejected' | 'timeout'). A throwing listener is logged.
// Stats: control_plane.{connected_state, rate_limit_enforced, pending_requests, identifier};
// per type under statsPrefix(type) (cluster_manager.cds., listener_manager.lds.,
// remora.xds.{rds,eds,sds}. by default; setStatsPrefix moves them): update_attempt,
// update_success, update_rejected, update_failure, update_empty, init_fetch_timeout,
// config_reload, config_reload_time_ms, update_time, version (xxHash64 of version_info, low
// 53 bits), version_text, update_duration.
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import type * as protobuf from 'protobufjs';
import type { Plain } from '../config/plain';
import { fromJSON } from '../config/json';
import { createLogger } from '../common/log';
import type { Logger } from '../server/context';
import { VERSION_NUMBER } from '../server/version';
import { rootStore, type Counter, type Gauge, type Histogram, type Store } from '../stats/stats';
import { JitteredBackoff } from './backoff';
import { XdsResourceError, decodeResource, resourceLabel } from './decode';
import { versionHash } from './hash';
import {
  NACK_STATUS_CODE, RESOURCE_WRAPPER_URL, SERVICES, discoveryTypes, durationMs, encodeMessage, isFullStateType,
  kindOf, methodPath, strictBytes, truncateStatusMessage, xdsShortName, type XdsApiType, type XdsService,
} from './protocol';
import { TYPE, type DecodedResource, type ResourceHandler, type ResourceUpdate, type TypeStatus, type XdsClient } from './types';

export type { XdsApiType, XdsService } from './protocol';

/** Envoy's ConfigSource.initial_fetch_timeout default. */
export const DEFAULT_INITIAL_FETCH_TIMEOUT_MS = 15000;

/** Client features remora announces in Node.client_features (xDS TTL and Resource wrappers in SotW). */
export const REMORA_CLIENT_FEATURES: readonly string[] = [
  'xds.config.supports-resource-ttl',
  'xds.config.resource-in-sotw',
  'xds.config.supports-resource-in-sotw',
];

const NODE_TYPE = 'envoy.config.core.v3.Node';

export interface XdsClientOptions {
  /** gRPC target: "host:port", "unix:/abs/path", "unix:./relative/path", "unix-abstract:name", "dns:///host:port". */
  target: string;
  /** ApiConfigSource.api_type: GRPC = state of the world (default), DELTA_GRPC = incremental. */
  apiType?: XdsApiType;
  /** Discovery service of this stream (default 'ads'). */
  service?: XdsService;
  /** The envoy.config.core.v3.Node (plain form or proto3 JSON). user_agent_name/version and client_features are filled in. */
  node: Plain;
  /** ApiConfigSource.set_node_on_first_message_only (default false: node on every request, as Envoy). */
  setNodeOnFirstMessageOnly?: boolean;
  /**
   * ConfigSource.initial_fetch_timeout in ms, one value for every type or per type URL
   * (default 15000; 0 = wait forever). When it fires the type counts as initially fetched.
   */
  initialFetchTimeoutMs?: number | Record<string, number>;
  stats?: Store;
  log?: Logger;
  /** Channel credentials (default insecure). */
  credentials?: grpc.ChannelCredentials;
  /** Extra grpc-js channel options. */
  channelOptions?: grpc.ChannelOptions;
  /** GrpcService.initial_metadata: headers sent when the stream opens. */
  initialMetadata?: Record<string, string>;
  /** Reconnect backoff (defaults: base 500 ms, max 30 s). */
  backoff?: { baseMs?: number; maxMs?: number; random?: () => number };
  /** ApiConfigSource.rate_limit_settings: token bucket on outgoing requests (off when absent). */
  rateLimit?: { maxTokens?: number; fillRatePerSec?: number };
  /**
   * Delta only: versions to put in initial_resource_versions when a stream (re)starts, per
   * type. When absent (or it returns undefined) the client uses the versions it accepted.
   */
  getInitialResourceVersions?: (typeUrl: string) => Record<string, string> | undefined;
  /** Per type URL stats prefix overrides (see setStatsPrefix). */
  statsPrefixes?: Record<string, string>;
  /** Prefix of the management-server stats (default "control_plane."). */
  controlPlaneStatsPrefix?: string;
  /** Extra Node.client_features. */
  clientFeatures?: string[];
}

export type InitialFetchReason = 'accepted' | 'rejected' | 'timeout';

/**
 * Default subscription stats prefix of a type. Envoy keeps CDS and LDS stats under
 * cluster_manager.cds. and listener_manager.lds.; its EDS/RDS/SDS stats are per resource
 * (cluster.<name>., http.<prefix>.rds.<name>., sds.<name>.), which belong to the handlers,
 * so the client's aggregated per-type counters for those live under remora.xds.<eds|rds|sds>.
 */
export function defaultStatsPrefix(typeUrl: string): string {
  if (typeUrl === TYPE.CLUSTER) return 'cluster_manager.cds.';
  if (typeUrl === TYPE.LISTENER) return 'listener_manager.lds.';
  return `remora.xds.${xdsShortName(typeUrl)}.`;
}

/** Envoy's xDS subscription stats (ALL_SUBSCRIPTION_STATS) plus update_empty. */
class SubscriptionStats {
  readonly update_attempt: Counter;
  readonly update_success: Counter;
  readonly update_rejected: Counter;
  readonly update_failure: Counter;
  readonly update_empty: Counter;
  readonly init_fetch_timeout: Counter;
  readonly config_reload: Counter;
  readonly version: Gauge;
  readonly update_time: Gauge;
  readonly config_reload_time_ms: Gauge;
  readonly update_duration: Histogram;

  constructor(private readonly store: Store, readonly prefix: string, prev?: SubscriptionStats) {
    const p = prefix;
    this.update_attempt = store.counter(p + 'update_attempt');
    this.update_success = store.counter(p + 'update_success');
    this.update_rejected = store.counter(p + 'update_rejected');
    this.update_failure = store.counter(p + 'update_failure');
    this.update_empty = store.counter(p + 'update_empty');
    this.init_fetch_timeout = store.counter(p + 'init_fetch_timeout');
    this.config_reload = store.counter(p + 'config_reload');
    this.version = store.gauge(p + 'version', 'NeverImport');
    this.update_time = store.gauge(p + 'update_time', 'NeverImport');
    this.config_reload_time_ms = store.gauge(p + 'config_reload_time_ms', 'NeverImport');
    this.update_duration = store.histogram(p + 'update_duration', 'Milliseconds');
    if (prev) {
      // carry the numbers over when a caller moves the prefix
      this.update_attempt.add(prev.update_attempt.value);
      this.update_success.add(prev.update_success.value);
      this.update_rejected.add(prev.update_rejected.value);
      this.update_failure.add(prev.update_failure.value);
      this.update_empty.add(prev.update_empty.value);
      this.init_fetch_timeout.add(prev.init_fetch_timeout.value);
      this.config_reload.add(prev.config_reload.value);
      if (prev.version.used) this.version.set(prev.version.value);
      if (prev.update_time.used) this.update_time.set(prev.update_time.value);
      if (prev.config_reload_time_ms.used) this.config_reload_time_ms.set(prev.config_reload_time_ms.value);
      if (prev.versionText !== undefined) this.setVersionText(prev.versionText);
    }
  }

  versionText: string | undefined;

  setVersionText(v: string): void {
    this.versionText = v;
    this.store.setTextReadout(this.prefix + 'version_text', v);
  }
}

interface KnownResource {
  version: string;
  ttlTimer?: NodeJS.Timeout;
}

interface PendingAck {
  nonce: string;
  /** Set for a NACK. */
  error?: string;
}

/** Per type URL subscription state. */
class TypeState {
  handler: ResourceHandler | undefined;
  /** Subscribed to '*' (explicitly or as the legacy empty list). */
  wildcard = false;
  readonly names = new Set<string>();
  /** subscribe() was called at least once. */
  active = false;
  /** Last accepted version_info (SotW) / system_version_info (delta). */
  version = '';
  /** An update of this type was accepted at least once (SotW heartbeats need a version to match). */
  accepted = false;
  /** Last response nonce on the current stream. */
  nonce = '';
  /** A request for this type went out on the current stream. */
  sentOnStream = false;
  /** SotW: a non-empty resource_names went out on the current stream (ends the legacy wildcard meaning of []). */
  explicitSentOnStream = false;
  /** Subscription changed since the last request. */
  pending = false;
  /** Delta: subscription diffs not sent yet. */
  readonly pendingSubscribe = new Set<string>();
  readonly pendingUnsubscribe = new Set<string>();
  /** ACK/NACK waiting to be sent. */
  ack: PendingAck | undefined;
  /** Resources currently accepted, with their versions and TTL timers. */
  readonly resources = new Map<string, KnownResource>();
  // initial fetch
  initDone = false;
  initReason: InitialFetchReason | undefined;
  initTimer: NodeJS.Timeout | undefined;
  readonly initWaiters: Array<(reason: InitialFetchReason) => void> = [];
  // status
  lastAckedVersion = '';
  lastAckedNonce = '';
  lastUpdated = '';
  lastNack: TypeStatus['lastNack'];

  constructor(readonly typeUrl: string, public stats: SubscriptionStats) {}

  /** Whether this type wants anything from the server. */
  hasInterest(): boolean {
    return this.wildcard || this.names.size > 0;
  }

  subscribedTo(name: string): boolean {
    return this.wildcard || this.names.has(name);
  }

  /** Every name this type was ever subscribed to on this client. */
  readonly everSubscribed = new Set<string>();

  /**
   * Whether a resource the server sent should reach the handler. Unsubscribed resources are
   * ignored, except a ClusterLoadAssignment for a cluster this client never asked about: that is
   * a control-plane error (EDS for an unknown cluster), and the EDS handler NACKs it. One for a
   * cluster that was subscribed before (a race with an unsubscribe) is still ignored.
   */
  deliverable(name: string): boolean {
    if (this.subscribedTo(name)) return true;
    return this.typeUrl === TYPE.ENDPOINT && !this.everSubscribed.has(name);
  }
}

interface StreamCtx {
  id: number;
  client: grpc.Client;
  call: grpc.ClientDuplexStream<object, Buffer>;
  /** A request (any type) went out on this stream. */
  firstSent: boolean;
  connected: boolean;
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** One gRPC xDS stream (SotW or delta) to one discovery service. */
export class GrpcXdsClient extends EventEmitter implements XdsClient {
  readonly target: string;
  readonly service: XdsService;
  readonly delta: boolean;
  private readonly method: string;
  private readonly log: Logger;
  private readonly store: Store;
  private readonly node: protobuf.Message;
  private readonly setNodeOnFirstMessageOnly: boolean;
  private readonly backoff: JitteredBackoff;
  private readonly types = new Map<string, TypeState>();
  /** Types in the order they were first subscribed (requests go out in this order, as in Envoy's mux). */
  private readonly order: TypeState[] = [];
  private readonly statsPrefixes = new Map<string, string>();
  private readonly connectedState: Gauge;
  private readonly rateLimitEnforced: Counter;
  private readonly pendingRequests: Gauge;
  private readonly controlPlanePrefix: string;
  private stream: StreamCtx | undefined;
  private streamSeq = 0;
  private started = false;
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private flushScheduled = false;
  private processing = false;
  // rate limiting
  private tokens = 0;
  private tokensAt = 0;
  private rateTimer: NodeJS.Timeout | undefined;
  /** Consecutive stream failures since the last message from the server (for log levels). */
  private failures = 0;

  constructor(private readonly opts: XdsClientOptions) {
    super();
    this.target = opts.target;
    this.service = opts.service ?? 'ads';
    if (!SERVICES[this.service]) throw new Error(`unknown xDS service "${String(opts.service)}"`);
    const apiType = opts.apiType ?? 'GRPC';
    if (apiType !== 'GRPC' && apiType !== 'DELTA_GRPC') throw new Error(`unsupported xDS api_type "${String(apiType)}"`);
    this.delta = apiType === 'DELTA_GRPC';
    this.method = methodPath(this.service, this.delta);
    this.log = opts.log ?? createLogger('config');
    this.store = opts.stats ?? rootStore;
    this.setNodeOnFirstMessageOnly = opts.setNodeOnFirstMessageOnly === true;
    this.backoff = new JitteredBackoff(opts.backoff?.baseMs, opts.backoff?.maxMs, opts.backoff?.random);
    this.controlPlanePrefix = opts.controlPlaneStatsPrefix ?? 'control_plane.';
    this.connectedState = this.store.gauge(this.controlPlanePrefix + 'connected_state', 'NeverImport');
    this.connectedState.set(0);
    this.rateLimitEnforced = this.store.counter(this.controlPlanePrefix + 'rate_limit_enforced');
    this.pendingRequests = this.store.gauge(this.controlPlanePrefix + 'pending_requests', 'Accumulate');
    if (opts.statsPrefixes) for (const k of Object.keys(opts.statsPrefixes)) this.statsPrefixes.set(k, opts.statsPrefixes[k]);
    if (opts.rateLimit) {
      this.tokens = this.maxTokens();
      this.tokensAt = Date.now();
    }
    this.node = this.buildNode(opts.node, opts.clientFeatures ?? []);
  }

  // ---- XdsClient ---------------------------------------------------------------------

  setHandler(typeUrl: string, handler: ResourceHandler): void {
    this.state(typeUrl).handler = handler;
  }

  subscribe(typeUrl: string, names: string[] | '*'): void {
    const ts = this.state(typeUrl);
    let changed = false;
    const list = names === '*' ? ['*'] : names;
    for (const n of list) {
      if (n === '*') {
        if (!ts.wildcard) {
          ts.wildcard = true;
          changed = true;
          ts.pendingUnsubscribe.delete('*');
          // delta: later on a stream the wildcard is always explicit (the legacy empty list
          // only means '*' on a stream's first request)
          if (ts.sentOnStream) ts.pendingSubscribe.add('*');
        }
      } else if (!ts.names.has(n)) {
        ts.names.add(n);
        ts.everSubscribed.add(n);
        ts.pendingUnsubscribe.delete(n);
        ts.pendingSubscribe.add(n);
        changed = true;
        if (this.delta && ts.sentOnStream && ts.wildcard && !ts.explicitSentOnStream) {
          // moving from the legacy wildcard to explicit names: keep the wildcard explicitly
          ts.pendingSubscribe.add('*');
        }
      }
    }
    if (!ts.active) {
      ts.active = true;
      this.order.push(ts);
      ts.stats.update_attempt.inc(); // Envoy counts the subscription start as an attempt
      if (this.started) this.armInitialFetchTimer(ts);
      changed = true;
    } else if (changed) {
      ts.stats.update_attempt.inc(); // updateResourceInterest
    }
    if (changed) {
      ts.pending = true;
      this.scheduleFlush();
    }
  }

  unsubscribe(typeUrl: string, names: string[]): void {
    const ts = this.types.get(typeUrl);
    if (!ts) return;
    let changed = false;
    for (const n of names) {
      if (n === '*') {
        if (ts.wildcard) {
          ts.wildcard = false;
          changed = true;
          ts.pendingSubscribe.delete('*');
          ts.pendingUnsubscribe.add('*');
          this.forgetUnsubscribed(ts);
        }
      } else if (ts.names.delete(n)) {
        changed = true;
        ts.pendingSubscribe.delete(n);
        ts.pendingUnsubscribe.add(n);
        if (!ts.wildcard) this.forget(ts, n);
      }
    }
    if (changed) {
      ts.stats.update_attempt.inc();
      ts.pending = true;
      this.scheduleFlush();
    }
  }

  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    for (const ts of this.types.values()) if (ts.active) this.armInitialFetchTimer(ts);
    this.connect();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    if (this.rateTimer) clearTimeout(this.rateTimer);
    this.rateTimer = undefined;
    const s = this.stream;
    this.stream = undefined;
    if (s) this.closeStream(s);
    for (const ts of this.types.values()) {
      if (ts.initTimer) clearTimeout(ts.initTimer);
      ts.initTimer = undefined;
      for (const r of ts.resources.values()) if (r.ttlTimer) clearTimeout(r.ttlTimer);
    }
    this.connectedState.set(0);
  }

  connected(): boolean {
    return this.stream?.connected === true;
  }

  status(): TypeStatus[] {
    const out: TypeStatus[] = [];
    for (const ts of this.order) {
      const st: TypeStatus = {
        typeUrl: ts.typeUrl,
        wildcard: ts.wildcard,
        subscribed: [...ts.names].sort(),
        lastAckedVersion: ts.lastAckedVersion,
        lastAckedNonce: ts.lastAckedNonce,
        lastUpdated: ts.lastUpdated,
      };
      if (ts.lastNack) st.lastNack = { ...ts.lastNack };
      out.push(st);
    }
    return out;
  }

  // ---- extras ------------------------------------------------------------------------

  /** Move a type's subscription stats to another prefix (e.g. "cluster_manager.cds."). Must end with '.'. */
  setStatsPrefix(typeUrl: string, prefix: string): void {
    this.statsPrefixes.set(typeUrl, prefix);
    const ts = this.types.get(typeUrl);
    if (ts && ts.stats.prefix !== prefix) ts.stats = new SubscriptionStats(this.store, prefix, ts.stats);
  }

  statsPrefix(typeUrl: string): string {
    return this.statsPrefixes.get(typeUrl) ?? defaultStatsPrefix(typeUrl);
  }

  /**
   * Call cb once the type's initial fetch is done: the first response was accepted or
   * rejected, or initial_fetch_timeout fired. Called at once (asynchronously) when already done.
   */
  onInitialFetchDone(typeUrl: string, cb: (reason: InitialFetchReason) => void): void {
    const ts = this.state(typeUrl);
    if (ts.initDone) {
      const reason = ts.initReason as InitialFetchReason;
      queueMicrotask(() => cb(reason));
    } else ts.initWaiters.push(cb);
  }

  initialFetchDone(typeUrl: string): boolean {
    return this.types.get(typeUrl)?.initDone === true;
  }

  /** Versions of the accepted resources of a type (name -> version). */
  resourceVersions(typeUrl: string): Record<string, string> {
    const out: Record<string, string> = {};
    const ts = this.types.get(typeUrl);
    if (ts) for (const [n, r] of ts.resources) out[n] = r.version;
    return out;
  }

  /** The Node message sent to the server, as proto3 JSON-ish plain object (for tests / admin). */
  nodeSent(): Record<string, unknown> {
    return discoveryTypes().Node.toObject(this.node, { defaults: false, arrays: false, longs: String }) as Record<string, unknown>;
  }

  // ---- state -------------------------------------------------------------------------

  private state(typeUrl: string): TypeState {
    let ts = this.types.get(typeUrl);
    if (!ts) {
      const only = SERVICES[this.service].typeUrl;
      if (only && typeUrl !== only) throw new Error(`${SERVICES[this.service].service} carries only ${only}, not ${typeUrl}`);
      ts = new TypeState(typeUrl, new SubscriptionStats(this.store, this.statsPrefix(typeUrl)));
      this.types.set(typeUrl, ts);
    }
    return ts;
  }

  private forget(ts: TypeState, name: string): void {
    const r = ts.resources.get(name);
    if (!r) return;
    if (r.ttlTimer) clearTimeout(r.ttlTimer);
    ts.resources.delete(name);
  }

  /** After the wildcard went away: drop resources no explicit name covers. */
  private forgetUnsubscribed(ts: TypeState): void {
    for (const n of [...ts.resources.keys()]) if (!ts.names.has(n)) this.forget(ts, n);
  }

  private buildNode(node: Plain, extra: string[]): protobuf.Message {
    let json: Record<string, unknown> = {};
    try {
      const j = JSON.parse(JSON.stringify(node ?? {}, (_k, v) => (Buffer.isBuffer(v) ? v.toString('base64') : v)));
      if (j && typeof j === 'object' && !Array.isArray(j)) json = j;
    } catch {
      json = {};
    }
    let msg: Record<string, unknown>;
    try {
      msg = fromJSON(NODE_TYPE, json, 'node', { validate: false }) as unknown as Record<string, unknown>;
    } catch (e) {
      this.log.warn(`xDS node: ${errorMessage(e)}; sending only id and cluster`);
      msg = fromJSON(NODE_TYPE, { id: String(json.id ?? ''), cluster: String(json.cluster ?? '') }, 'node', { validate: false }) as unknown as Record<string, unknown>;
    }
    if (!msg.user_agent_name) msg.user_agent_name = 'remora';
    if (!msg.user_agent_version && !msg.user_agent_build_version) msg.user_agent_version = VERSION_NUMBER;
    const features = new Set<string>(Array.isArray(msg.client_features) ? (msg.client_features as string[]) : []);
    for (const f of REMORA_CLIENT_FEATURES) features.add(f);
    for (const f of extra) features.add(f);
    msg.client_features = [...features];
    return msg as unknown as protobuf.Message;
  }

  private initialFetchTimeout(typeUrl: string): number {
    const t = this.opts.initialFetchTimeoutMs;
    if (t === undefined) return DEFAULT_INITIAL_FETCH_TIMEOUT_MS;
    if (typeof t === 'number') return t;
    return t[typeUrl] ?? DEFAULT_INITIAL_FETCH_TIMEOUT_MS;
  }

  private armInitialFetchTimer(ts: TypeState): void {
    if (ts.initDone || ts.initTimer) return;
    const ms = this.initialFetchTimeout(ts.typeUrl);
    if (!(ms > 0)) return;
    ts.initTimer = setTimeout(() => {
      ts.initTimer = undefined;
      if (ts.initDone || this.stopped) return;
      ts.stats.init_fetch_timeout.inc();
      ts.stats.update_attempt.inc();
      this.log.warn(`gRPC config: initial fetch timed out for ${ts.typeUrl}`);
      this.initialFetchDoneFor(ts, 'timeout');
    }, ms);
    ts.initTimer.unref();
  }

  private initialFetchDoneFor(ts: TypeState, reason: InitialFetchReason): void {
    if (ts.initTimer) clearTimeout(ts.initTimer);
    ts.initTimer = undefined;
    if (ts.initDone) return;
    ts.initDone = true;
    ts.initReason = reason;
    const waiters = ts.initWaiters.splice(0);
    for (const w of waiters) {
      try {
        w(reason);
      } catch (e) {
        this.log.error(`xDS initial fetch callback for ${ts.typeUrl} threw: ${errorMessage(e)}`);
      }
    }
    this.safeEmit('initialFetchDone', ts.typeUrl, reason);
  }

  private safeEmit(event: string, ...args: unknown[]): void {
    try {
      this.emit(event, ...args);
    } catch (e) {
      this.log.error(`xDS client '${event}' listener threw: ${errorMessage(e)}`);
    }
  }

  // ---- stream ------------------------------------------------------------------------

  private channelOptions(): grpc.ChannelOptions {
    return {
      'grpc.max_receive_message_length': -1,
      'grpc.max_send_message_length': -1,
      'grpc.enable_retries': 0,
      ...this.opts.channelOptions,
    };
  }

  private connect(): void {
    this.reconnectTimer = undefined;
    if (this.stopped) return;
    let client: grpc.Client;
    let call: grpc.ClientDuplexStream<object, Buffer>;
    const T = discoveryTypes();
    const reqType = this.delta ? T.DeltaDiscoveryRequest : T.DiscoveryRequest;
    try {
      client = new grpc.Client(this.target, this.opts.credentials ?? grpc.credentials.createInsecure(), this.channelOptions());
      const md = new grpc.Metadata();
      const im = this.opts.initialMetadata;
      if (im) for (const k of Object.keys(im)) md.add(k, im[k]);
      call = client.makeBidiStreamRequest<object, Buffer>(this.method, (m: object) => encodeMessage(reqType, m), (b: Buffer) => b, md);
    } catch (e) {
      this.log.warn(`${this.methodName()} gRPC config stream to ${this.target}: ${errorMessage(e)}`);
      this.scheduleReconnect();
      return;
    }
    const s: StreamCtx = { id: ++this.streamSeq, client, call, firstSent: false, connected: false };
    this.stream = s;
    call.on('data', (buf: Buffer) => this.onData(s, buf));
    call.on('metadata', () => {
      if (s === this.stream) this.markConnected(s);
    });
    call.on('status', (st: grpc.StatusObject) => this.onStreamClosed(s, st.code, st.details));
    call.on('error', () => {
      /* the 'status' event reports it */
    });
    this.watchChannel(s);
    for (const ts of this.types.values()) {
      ts.nonce = '';
      ts.ack = undefined;
      ts.sentOnStream = false;
      ts.explicitSentOnStream = false;
      ts.pendingSubscribe.clear();
      ts.pendingUnsubscribe.clear();
      ts.pending = ts.active;
    }
    this.flush();
  }

  private watchChannel(s: StreamCtx): void {
    let ch: grpc.ChannelInterface;
    try {
      ch = s.client.getChannel();
    } catch {
      return;
    }
    const check = (): void => {
      if (s !== this.stream || s.connected) return;
      let st: grpc.connectivityState;
      try {
        st = ch.getConnectivityState(false);
      } catch {
        return;
      }
      if (st === grpc.connectivityState.READY) {
        this.markConnected(s);
        return;
      }
      if (st === grpc.connectivityState.SHUTDOWN) return;
      try {
        ch.watchConnectivityState(st, Date.now() + 60000, () => check());
      } catch {
        /* closed meanwhile */
      }
    };
    check();
  }

  private markConnected(s: StreamCtx): void {
    if (s.connected) return;
    s.connected = true;
    this.connectedState.set(1);
    this.log.debug(`${this.methodName()} gRPC config stream to ${this.target} established`);
    this.safeEmit('connected');
  }

  private methodName(): string {
    const slash = this.method.lastIndexOf('/');
    return this.method.slice(slash + 1);
  }

  private closeStream(s: StreamCtx): void {
    try {
      s.call.cancel();
    } catch {
      /* already closed */
    }
    try {
      s.client.close();
    } catch {
      /* already closed */
    }
  }

  private onStreamClosed(s: StreamCtx, code: number, details: string): void {
    if (s !== this.stream) return;
    this.stream = undefined;
    const wasConnected = s.connected;
    this.closeStream(s);
    this.connectedState.set(0);
    this.failures++;
    const text = `${this.methodName()} gRPC config stream to ${this.target} closed: ${code}, ${details}`;
    if (wasConnected || this.failures <= 1) this.log.warn(text);
    else this.log.debug(text);
    for (const ts of this.types.values()) {
      if (!ts.active) continue;
      ts.ack = undefined;
      ts.stats.update_failure.inc();
      ts.stats.update_attempt.inc();
    }
    if (wasConnected) this.safeEmit('disconnected', { code, details });
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    const delay = this.backoff.next();
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  // ---- requests ----------------------------------------------------------------------

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private wantsRequest(ts: TypeState): boolean {
    if (ts.ack) return true;
    if (!ts.pending || !ts.active) return false;
    if (!ts.sentOnStream) return ts.hasInterest();
    if (this.delta) return ts.pendingSubscribe.size > 0 || ts.pendingUnsubscribe.size > 0;
    // SotW: an empty list after explicit names means "unsubscribe all"; before, it would mean wildcard
    return ts.hasInterest() || ts.explicitSentOnStream;
  }

  private flush(): void {
    const s = this.stream;
    if (!s || this.processing || this.stopped) return;
    let queued = 0;
    // ACKs/NACKs first, then subscription changes, in subscription order (as Envoy's mux)
    for (let pass = 0; pass < 2; pass++) {
      for (const ts of this.order) {
        const want = pass === 0 ? ts.ack !== undefined : ts.ack === undefined && this.wantsRequest(ts);
        if (!want) continue;
        if (!this.takeToken()) {
          queued++;
          continue;
        }
        this.sendRequest(s, ts);
        if (s !== this.stream) return;
      }
    }
    if (queued > 0) {
      this.rateLimitEnforced.inc();
      this.pendingRequests.set(queued);
      this.scheduleRateLimitedFlush();
    } else if (this.pendingRequests.value !== 0) this.pendingRequests.set(0);
  }

  private maxTokens(): number {
    return Math.max(1, this.opts.rateLimit?.maxTokens ?? 100);
  }

  private takeToken(): boolean {
    const rl = this.opts.rateLimit;
    if (!rl) return true;
    const fill = Math.max(0.001, rl.fillRatePerSec ?? 10);
    const now = Date.now();
    this.tokens = Math.min(this.maxTokens(), this.tokens + ((now - this.tokensAt) / 1000) * fill);
    this.tokensAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }

  private scheduleRateLimitedFlush(): void {
    if (this.rateTimer) return;
    const fill = Math.max(0.001, this.opts.rateLimit?.fillRatePerSec ?? 10);
    const wait = Math.max(1, Math.ceil(((1 - this.tokens) / fill) * 1000));
    this.rateTimer = setTimeout(() => {
      this.rateTimer = undefined;
      this.flush();
    }, wait);
  }

  private sendRequest(s: StreamCtx, ts: TypeState): void {
    const ack = ts.ack;
    ts.ack = undefined;
    ts.pending = false;
    const req: Record<string, unknown> = { type_url: ts.typeUrl };
    if (!s.firstSent || !this.setNodeOnFirstMessageOnly) req.node = this.node;
    if (this.delta) {
      let subscribe: string[];
      let unsubscribe: string[] = [];
      if (!ts.sentOnStream) {
        // a new stream: state the whole interest, and the versions we hold
        subscribe = ts.wildcard ? (ts.names.size ? ['*', ...ts.names] : []) : [...ts.names];
        if (ts.wildcard && ts.names.size) ts.explicitSentOnStream = true;
        req.initial_resource_versions = this.initialVersions(ts);
      } else {
        subscribe = [...ts.pendingSubscribe];
        unsubscribe = [...ts.pendingUnsubscribe];
        if (subscribe.length) ts.explicitSentOnStream = true;
      }
      ts.pendingSubscribe.clear();
      ts.pendingUnsubscribe.clear();
      req.resource_names_subscribe = subscribe;
      req.resource_names_unsubscribe = unsubscribe;
      if (ack) req.response_nonce = ack.nonce;
    } else {
      let names: string[];
      if (ts.wildcard) names = ts.names.size || ts.explicitSentOnStream ? ['*', ...ts.names] : [];
      else names = [...ts.names];
      if (names.length) ts.explicitSentOnStream = true;
      req.version_info = ts.version;
      req.resource_names = names;
      req.response_nonce = ack ? ack.nonce : ts.nonce;
    }
    if (ack?.error !== undefined) req.error_detail = { code: NACK_STATUS_CODE, message: truncateStatusMessage(ack.error) };
    ts.sentOnStream = true;
    s.firstSent = true;
    try {
      s.call.write(req);
    } catch (e) {
      this.log.debug(`${this.methodName()}: write failed: ${errorMessage(e)}`);
    }
  }

  private initialVersions(ts: TypeState): Record<string, string> {
    const hook = this.opts.getInitialResourceVersions;
    if (hook) {
      try {
        const v = hook(ts.typeUrl);
        if (v) {
          const out: Record<string, string> = {};
          for (const k of Object.keys(v)) if (typeof v[k] === 'string') out[k] = v[k];
          return out;
        }
      } catch (e) {
        this.log.error(`getInitialResourceVersions(${ts.typeUrl}) threw: ${errorMessage(e)}`);
      }
    }
    const out: Record<string, string> = {};
    for (const [n, r] of ts.resources) if (ts.subscribedTo(n)) out[n] = r.version;
    return out;
  }

  // ---- responses ---------------------------------------------------------------------

  private onData(s: StreamCtx, buf: Buffer): void {
    if (s !== this.stream) return;
    this.backoff.reset();
    this.failures = 0;
    this.markConnected(s);
    const T = discoveryTypes();
    let msg: Record<string, unknown>;
    try {
      msg = (this.delta ? T.DeltaDiscoveryResponse : T.DiscoveryResponse).decode(strictBytes(buf)) as unknown as Record<string, unknown>;
    } catch (e) {
      // No type URL or nonce to NACK with: reset the stream, as Envoy does on a parse failure.
      this.log.warn(`${this.methodName()} gRPC config stream to ${this.target}: unable to decode ${this.delta ? 'DeltaDiscoveryResponse' : 'DiscoveryResponse'}: ${errorMessage(e)}`);
      this.closeStreamAndRetry(s, 'undecodable response');
      return;
    }
    try {
      if (this.delta) this.onDeltaResponse(msg);
      else this.onSotwResponse(msg);
    } catch (e) {
      // Defensive: a bug here must not take the process down.
      this.processing = false;
      this.log.error(`xDS response handling failed: ${errorMessage(e)}`);
    }
    this.flush();
  }

  private closeStreamAndRetry(s: StreamCtx, why: string): void {
    this.onStreamClosed(s, grpc.status.INTERNAL, why);
  }

  /** The type state of a response, or undefined (logged) when nothing subscribed to it. */
  private responseState(typeUrl: string): TypeState | undefined {
    const ts = this.types.get(typeUrl);
    if (!ts || !ts.active) {
      this.log.warn(`The server sent an xDS response proto with type_url ${typeUrl}, which we have not subscribed to. Ignoring.`);
      return undefined;
    }
    return ts;
  }

  private controlPlaneIdentifier(msg: Record<string, unknown>): void {
    const cp = msg.control_plane as { identifier?: string } | null | undefined;
    if (cp && typeof cp.identifier === 'string') this.store.setTextReadout(this.controlPlanePrefix + 'identifier', cp.identifier);
  }

  private onSotwResponse(msg: Record<string, unknown>): void {
    const typeUrl = String(msg.type_url ?? '');
    const ts = this.responseState(typeUrl);
    if (!ts) return;
    this.controlPlaneIdentifier(msg);
    const nonce = String(msg.nonce ?? '');
    const version = String(msg.version_info ?? '');
    ts.nonce = nonce;
    const resources = (msg.resources as Array<{ type_url: string; value: Uint8Array }>) ?? [];
    const fullState = isFullStateType(typeUrl);
    const added: DecodedResource[] = [];
    const heartbeats: Array<{ name: string; ttlMs?: number }> = [];
    const seen = new Set<string>();
    let update: ResourceUpdate;
    try {
      const T = discoveryTypes();
      for (let i = 0; i < resources.length; i++) {
        const any = resources[i];
        let inner: { type_url: string; value: Uint8Array } | null | undefined = any;
        let wrapperName: string | undefined;
        let ttlMs: number | undefined;
        if (any.type_url === RESOURCE_WRAPPER_URL) {
          let res: Record<string, unknown>;
          try {
            res = T.Resource.decode(strictBytes(any.value ?? new Uint8Array(0))) as unknown as Record<string, unknown>;
          } catch (e) {
            throw new XdsResourceError(`${resourceLabel(typeUrl, undefined, i)}: unable to decode Resource wrapper: ${errorMessage(e)}`);
          }
          wrapperName = typeof res.name === 'string' && res.name ? res.name : undefined;
          ttlMs = durationMs(res.ttl as { seconds?: unknown; nanos?: unknown } | null);
          inner = res.resource as typeof inner;
          if (!inner) {
            if (wrapperName && ts.accepted && version === ts.version) {
              if (seen.has(wrapperName)) throw new XdsResourceError(`${resourceLabel(typeUrl, wrapperName, i)}: duplicate resource name in one response`);
              seen.add(wrapperName);
              if (ts.subscribedTo(wrapperName)) heartbeats.push({ name: wrapperName, ttlMs });
              continue;
            }
            throw new XdsResourceError(`${resourceLabel(typeUrl, wrapperName, i)}: Resource wrapper without a resource that is not a heartbeat (version "${version}", accepted "${ts.version}")`);
          }
        }
        if (inner.type_url !== typeUrl) {
          throw new XdsResourceError(`${resourceLabel(typeUrl, wrapperName, i)}: type URL ${inner.type_url || '(empty)'} embedded in an individual Any does not match the message-wide type URL ${typeUrl} in DiscoveryResponse`);
        }
        const d = decodeResource(typeUrl, inner.value ?? new Uint8Array(0), i, version, wrapperName, ttlMs);
        if (seen.has(d.name)) throw new XdsResourceError(`${resourceLabel(typeUrl, d.name, i)}: duplicate resource name in one response`);
        seen.add(d.name);
        if (!ts.deliverable(d.name)) {
          this.log.debug(`${kindOf(typeUrl)} "${d.name}" was not subscribed to; ignoring it`);
          continue;
        }
        added.push(d);
      }
      const removed: string[] = [];
      if (fullState) for (const n of ts.resources.keys()) if (!seen.has(n)) removed.push(n);
      update = { typeUrl, versionInfo: version, added, removed, isFullState: fullState };
    } catch (e) {
      this.reject(ts, nonce, version, e instanceof XdsResourceError ? e.message : errorMessage(e));
      return;
    }
    if (resources.length === 0) ts.stats.update_empty.inc();
    const onlyHeartbeats = heartbeats.length > 0 && added.length === 0 && update.removed.length === 0;
    if (!onlyHeartbeats && !this.applyUpdate(ts, update, nonce)) return;
    // accepted
    for (const r of update.removed) this.forget(ts, r);
    for (const d of added) this.remember(ts, d.name, d.version, d.ttlMs);
    for (const h of heartbeats) this.refreshTtl(ts, h.name, h.ttlMs);
    this.accept(ts, version, nonce, added.length + update.removed.length > 0);
  }

  private onDeltaResponse(msg: Record<string, unknown>): void {
    const typeUrl = String(msg.type_url ?? '');
    const ts = this.responseState(typeUrl);
    if (!ts) return;
    this.controlPlaneIdentifier(msg);
    const nonce = String(msg.nonce ?? '');
    const version = String(msg.system_version_info ?? '');
    ts.nonce = nonce;
    const resources = (msg.resources as Array<Record<string, unknown>>) ?? [];
    const removedIn = (msg.removed_resources as string[]) ?? [];
    const added: DecodedResource[] = [];
    const heartbeats: Array<{ name: string; ttlMs?: number }> = [];
    const names = new Set<string>();
    let update: ResourceUpdate;
    try {
      for (let i = 0; i < resources.length; i++) {
        const r = resources[i];
        const name = typeof r.name === 'string' ? r.name : '';
        const rversion = typeof r.version === 'string' ? r.version : '';
        if (names.has(name)) throw new XdsResourceError(`duplicate name ${name} found among added/updated resources`);
        names.add(name);
        const ttlMs = durationMs(r.ttl as { seconds?: unknown; nanos?: unknown } | null);
        const inner = r.resource as { type_url: string; value: Uint8Array } | null | undefined;
        if (!inner) {
          const known = ts.resources.get(name);
          if (known && known.version === rversion) {
            heartbeats.push({ name, ttlMs });
            continue;
          }
          if (Array.isArray(r.aliases) && r.aliases.length > 0) continue; // unresolved alias (VHDS)
          throw new XdsResourceError(`${resourceLabel(typeUrl, name, i)}: resource has no body and is not a heartbeat (version "${rversion}")`);
        }
        if (inner.type_url !== typeUrl) {
          throw new XdsResourceError(`${resourceLabel(typeUrl, name, i)}: type URL ${inner.type_url || '(empty)'} embedded in an individual Any does not match the message-wide type URL ${typeUrl} in DeltaDiscoveryResponse`);
        }
        const d = decodeResource(typeUrl, inner.value ?? new Uint8Array(0), i, rversion, name || undefined, ttlMs);
        if (!ts.deliverable(d.name)) {
          this.log.debug(`${kindOf(typeUrl)} "${d.name}" was not subscribed to; ignoring it`);
          continue;
        }
        added.push(d);
      }
      const removed: string[] = [];
      for (const n of removedIn) {
        if (names.has(n)) throw new XdsResourceError(`duplicate name ${n} found in the union of added+removed resources`);
        names.add(n);
        if (ts.subscribedTo(n) || ts.resources.has(n)) removed.push(n);
      }
      update = { typeUrl, versionInfo: version, added, removed, isFullState: false };
    } catch (e) {
      this.reject(ts, nonce, version, e instanceof XdsResourceError ? e.message : errorMessage(e));
      return;
    }
    const onlyHeartbeats = heartbeats.length > 0 && added.length === 0 && update.removed.length === 0;
    if (!onlyHeartbeats && !this.applyUpdate(ts, update, nonce)) return;
    for (const r of update.removed) this.forget(ts, r);
    for (const d of added) this.remember(ts, d.name, d.version, d.ttlMs);
    for (const h of heartbeats) this.refreshTtl(ts, h.name, h.ttlMs);
    this.accept(ts, version, nonce, added.length + update.removed.length > 0);
  }

  /** handler.apply(); false (and the NACK queued) when it throws or no handler is set. */
  private applyUpdate(ts: TypeState, update: ResourceUpdate, nonce: string): boolean {
    const h = ts.handler;
    if (!h) {
      this.reject(ts, nonce, update.versionInfo, `no handler for ${ts.typeUrl}`);
      return false;
    }
    const t0 = performance.now();
    this.processing = true;
    try {
      h.apply(update);
    } catch (e) {
      this.processing = false;
      this.reject(ts, nonce, update.versionInfo, errorMessage(e));
      return false;
    }
    this.processing = false;
    ts.stats.update_duration.record(Math.round(performance.now() - t0));
    return true;
  }

  private remember(ts: TypeState, name: string, version: string, ttlMs: number | undefined): void {
    let r = ts.resources.get(name);
    if (!r) {
      r = { version };
      ts.resources.set(name, r);
    } else r.version = version;
    this.refreshTtl(ts, name, ttlMs);
  }

  private refreshTtl(ts: TypeState, name: string, ttlMs: number | undefined): void {
    const r = ts.resources.get(name);
    if (!r) return;
    if (r.ttlTimer) clearTimeout(r.ttlTimer);
    r.ttlTimer = undefined;
    if (ttlMs === undefined || this.stopped) return;
    r.ttlTimer = setTimeout(() => this.expire(ts, name, r), Math.max(0, ttlMs));
    r.ttlTimer.unref();
  }

  private expire(ts: TypeState, name: string, r: KnownResource): void {
    if (ts.resources.get(name) !== r) return;
    r.ttlTimer = undefined;
    ts.resources.delete(name);
    this.log.info(`xDS ${kindOf(ts.typeUrl)} "${name}" expired (TTL)`);
    try {
      ts.handler?.onExpired?.(ts.typeUrl, [name]);
    } catch (e) {
      this.log.error(`onExpired(${ts.typeUrl}, ${name}) threw: ${errorMessage(e)}`);
    }
    this.safeEmit('expired', ts.typeUrl, [name]);
  }

  private accept(ts: TypeState, version: string, nonce: string, changed: boolean): void {
    ts.version = version;
    ts.accepted = true;
    ts.ack = { nonce };
    ts.lastAckedVersion = version;
    ts.lastAckedNonce = nonce;
    const now = Date.now();
    ts.lastUpdated = new Date(now).toISOString();
    const st = ts.stats;
    st.update_success.inc();
    st.update_attempt.inc();
    st.update_time.set(now);
    st.version.set(versionHash(version));
    st.setVersionText(version);
    if (changed) {
      st.config_reload.inc();
      st.config_reload_time_ms.set(now);
    }
    this.log.debug(`gRPC config for ${ts.typeUrl} accepted with version ${version}`);
    this.initialFetchDoneFor(ts, 'accepted');
    this.safeEmit('accepted', ts.typeUrl, version, nonce);
  }

  private reject(ts: TypeState, nonce: string, version: string, error: string): void {
    ts.ack = { nonce, error };
    ts.lastNack = { version, nonce, error, time: new Date().toISOString() };
    ts.stats.update_rejected.inc();
    ts.stats.update_attempt.inc();
    this.log.warn(`gRPC config for ${ts.typeUrl} rejected: ${error}`);
    this.initialFetchDoneFor(ts, 'rejected');
    this.safeEmit('rejected', ts.typeUrl, nonce, error);
  }
}

/** The ADS client: every type over AggregatedDiscoveryService on one stream. */
export class AdsClient extends GrpcXdsClient {
  constructor(opts: Omit<XdsClientOptions, 'service'>) {
    super({ ...opts, service: 'ads' });
  }
}

// CDS: dynamic clusters through the cluster manager (addedViaApi: true, versionInfo).
//
// Semantics (Envoy's, with one deliberate difference):
// - Validation first: every added/changed cluster of the response is built once against a
//   scratch stats store (buildCluster: every field check the cluster code has). Any failure
//   NACKs the WHOLE response with `Cluster "<name>": <path>: <detail>` and changes nothing.
//   Envoy instead applies the valid clusters of a response and NACKs with the others' errors;
//   remora keeps a response all-or-nothing so the config it runs is always one the control
//   plane sent as a whole.
// - Identical configs are skipped; static (bootstrap) clusters are never changed or removed
//   through CDS (the cluster manager logs and skips).
// - Warming, make-before-break: an EDS cluster is not handed to the cluster manager until its
//   first ClusterLoadAssignment (subscribed by eds_cluster_config.service_name, else the
//   cluster name) has arrived; a changed EDS cluster is warmed next to the old one, which
//   keeps serving, and swapped in one synchronous step (addOrUpdate + applyLoadAssignment)
//   when warm. A cached assignment for the service name warms it at once (Envoy's EDS cache).
//   eds_config.initial_fetch_timeout (default 15 s, 0 = forever) ends warming without hosts.
//   Non-EDS clusters (STATIC, STRICT_DNS, LOGICAL_DNS) are replaced at once; DNS clusters
//   initialize with their first resolution (readiness waits for it).
// - Removal (SotW: absent from the response; delta: removed_resources; TTL expiry): the
//   cluster leaves the manager; the router's pools for it close gracefully, so in-flight
//   requests finish; its EDS name is unsubscribed when no other cluster uses it.
import type { Plain } from '../../config/plain';
import { ConfigError } from '../../config/errors';
import type { Logger } from '../../server/context';
import { Store, type Gauge } from '../../stats/stats';
import { defaultRandom } from '../../lb/random_source';
import { buildCluster } from '../../cluster/cluster_factory';
import { EdsCluster } from '../../cluster/cluster_base';
import type { ClusterManagerImpl } from '../../cluster/cluster_manager';
import { TYPE, type ResourceHandler, type ResourceUpdate } from '../types';
import { XdsRejection, checkDuplicates, fetchTimer, fingerprint, initialFetchTimeoutMs, jsonOf, rejectResource, type JsonSource, warmingNamesOf } from './common';
import type { AssignmentSink, CachedAssignment, EdsHandler } from './eds';
import { redactJson } from '../../secret/redact';

export const CLUSTER_TYPE = 'envoy.config.cluster.v3.Cluster';

interface ActiveState {
  fingerprint: string;
  json: JsonSource;
  versionInfo: string;
  lastUpdated: number;
  /** EDS service name this cluster holds a reference on (EDS clusters only). */
  eds: string | undefined;
}

interface WarmingState extends ActiveState {
  config: Plain;
  eds: string;
  timer: NodeJS.Timeout | undefined;
}

interface ClusterRecord {
  name: string;
  active: ActiveState | undefined;
  warming: WarmingState | undefined;
}

export interface CdsHandlerDeps {
  clusterManager: ClusterManagerImpl;
  eds: EdsHandler;
  stats: Store;
  log: Logger;
  /** Something changed that may end warming / the initial fetch (DynamicResources re-checks readiness). */
  onChange?: () => void;
}

/** eds_cluster_config.service_name, else the cluster name. */
export function edsServiceName(c: Plain): string {
  const s = c?.eds_cluster_config?.service_name;
  return typeof s === 'string' && s !== '' ? s : String(c?.name ?? '');
}

export class CdsHandler implements ResourceHandler, AssignmentSink {
  private readonly records = new Map<string, ClusterRecord>();
  /** Static EDS clusters (bootstrap) fed from ADS: cluster name -> service name. */
  private readonly staticEds = new Map<string, string>();
  private readonly warmingGauge: Gauge;
  /** version_info of the last accepted CDS response. */
  versionInfo = '';
  /** A CDS response was applied at least once. */
  received = false;
  private stopped = false;

  constructor(private readonly deps: CdsHandlerDeps) {
    this.warmingGauge = deps.stats.gauge('cluster_manager.warming_clusters', 'NeverImport');
    this.warmingGauge.set(0);
    deps.eds.setSink(this);
  }

  /** Bootstrap EDS clusters (static_resources.clusters of type EDS) get their assignments from ADS too. */
  watchStaticEdsClusters(): void {
    for (const c of this.deps.clusterManager.all()) {
      if (c.info.addedViaApi || c.info.type !== 'EDS' || this.staticEds.has(c.info.name)) continue;
      const svc = c.info.edsServiceName || c.info.name;
      this.staticEds.set(c.info.name, svc);
      this.deps.eds.watch(svc);
    }
  }

  apply(update: ResourceUpdate): void {
    if (this.stopped) return;
    this.bySvc = undefined;
    const cm = this.deps.clusterManager;
    checkDuplicates('Cluster', update.added);
    const scratch = new Store();
    const changes: { name: string; config: Plain; fp: string; json: JsonSource; version: string }[] = [];
    for (let i = 0; i < update.added.length; i++) {
      const r = update.added[i];
      const config = r.resource;
      const name = typeof config?.name === 'string' ? config.name : '';
      if (name === '') throw new XdsRejection(`Cluster "${r.name}": name: cluster name must not be empty (resource ${i})`);
      if (r.name && r.name !== name) throw new XdsRejection(`Cluster "${r.name}": name: "${name}" does not match the resource name`);
      const existing = cm.get(name);
      if (existing && !existing.info.addedViaApi) {
        this.deps.log.warn(`cds: cluster ${name} is static; it cannot be updated via the API; update skipped`);
        continue;
      }
      const fp = fingerprint(config);
      const rec = this.records.get(name);
      if (rec && (rec.warming ? rec.warming.fingerprint : rec.active?.fingerprint) === fp) continue;
      const version = r.version || update.versionInfo;
      try {
        buildCluster(config, {
          path: '', addedViaApi: true, versionInfo: version,
          scopeFor: (obs) => scratch.scope(`cluster.${obs}.`),
          deps: { log: this.deps.log, random: defaultRandom, localZone: '' },
        });
        if (config.type === 'EDS') checkEdsConfigSource(config);
      } catch (e) {
        throw rejectResource('Cluster', name, e);
      }
      changes.push({ name, config, fp, json: jsonOf(r), version });
    }

    // Commit: nothing below throws.
    this.received = true;
    this.versionInfo = update.versionInfo;
    for (const name of update.removed) this.removeCluster(name);
    const now = Date.now();
    for (const ch of changes) {
      let rec = this.records.get(ch.name);
      if (!rec) { rec = { name: ch.name, active: undefined, warming: undefined }; this.records.set(ch.name, rec); }
      this.dropWarming(rec);
      if (rec.active && rec.active.fingerprint === ch.fp) continue; // back to the active config: warming cancelled
      if (ch.config.type === 'EDS') {
        const svc = edsServiceName(ch.config);
        this.deps.eds.watch(svc);
        const w: WarmingState = { config: ch.config, fingerprint: ch.fp, json: ch.json, versionInfo: ch.version, lastUpdated: now, eds: svc, timer: undefined };
        const cached = this.deps.eds.cached(svc);
        if (cached) {
          this.install(rec, w, cached.assignment);
        } else {
          rec.warming = w;
          const ms = initialFetchTimeoutMs(ch.config.eds_cluster_config?.eds_config);
          w.timer = fetchTimer(ms, () => this.onWarmingTimeout(rec!, w, ms));
          this.deps.log.debug(`cds: cluster ${ch.name} warming (waiting for EDS "${svc}")`);
        }
      } else {
        this.install(rec, { config: ch.config, fingerprint: ch.fp, json: ch.json, versionInfo: ch.version, lastUpdated: now, eds: '', timer: undefined }, undefined, false);
      }
    }
    this.updateGauges();
    this.deps.onChange?.();
  }

  onExpired(_typeUrl: string, names: string[]): void {
    for (const name of names) {
      this.deps.log.warn(`cds: cluster ${name} expired (TTL); removing it`);
      this.removeCluster(name);
    }
    this.updateGauges();
    this.deps.onChange?.();
  }

  /** EDS delivered an assignment for a service name. */
  onAssignment(svc: string, a: CachedAssignment): void {
    const cm = this.deps.clusterManager;
    for (const rec of this.recordsFor(svc)) {
      if (rec.warming?.eds === svc) {
        this.install(rec, rec.warming, a.assignment);
        if (this.warmingGauge.value > 0) this.warmingGauge.dec(); // exact recount in scheduleChange()
      } else if (rec.active?.eds === svc) {
        this.applyTo(rec.name, a.assignment);
      }
    }
    for (const [name, s] of this.staticEds) {
      if (s !== svc) continue;
      if (cm.get(name)) this.applyTo(name, a.assignment);
      else { this.staticEds.delete(name); this.deps.eds.unwatch(s); }
    }
    this.scheduleChange();
  }

  /**
   * Records whose warming or active cluster reads EDS service `svc`. The index is rebuilt
   * lazily after CDS changes, so one EDS response with N assignments costs O(N), not O(N²).
   */
  private recordsFor(svc: string): ClusterRecord[] {
    if (this.bySvc === undefined) {
      const idx = new Map<string, ClusterRecord[]>();
      const add = (k: string | undefined, r: ClusterRecord) => {
        if (k === undefined) return;
        const l = idx.get(k);
        if (!l) idx.set(k, [r]); else if (!l.includes(r)) l.push(r);
      };
      for (const r of this.records.values()) { add(r.warming?.eds, r); add(r.active?.eds, r); }
      this.bySvc = idx;
    }
    return this.bySvc.get(svc) ?? [];
  }
  private bySvc: Map<string, ClusterRecord[]> | undefined;

  /** Gauge update + readiness re-check once per burst of assignments (after the current EDS apply). */
  private scheduleChange(): void {
    if (this.changeScheduled) return;
    this.changeScheduled = true;
    queueMicrotask(() => {
      this.changeScheduled = false;
      this.updateGauges();
      this.deps.onChange?.();
    });
  }
  private changeScheduled = false;

  /** EDS removed an assignment (delta): warming clusters finish warming without hosts; active ones keep theirs. */
  onAssignmentRemoved(svc: string): void {
    for (const rec of [...this.recordsFor(svc)]) {
      if (rec.warming?.eds === svc) {
        this.deps.log.warn(`cds: EDS assignment "${svc}" removed while cluster ${rec.name} was warming; activating it without hosts`);
        this.install(rec, rec.warming, emptyAssignment(svc));
        if (this.warmingGauge.value > 0) this.warmingGauge.dec();
      }
    }
    this.scheduleChange();
  }

  private applyTo(name: string, assignment: Plain): void {
    try {
      this.deps.clusterManager.applyLoadAssignment(name, assignment);
    } catch (e) {
      this.deps.log.error(`eds: cluster ${name}: assignment not applied: ${(e as Error).message}`);
    }
  }

  private onWarmingTimeout(rec: ClusterRecord, w: WarmingState, ms: number): void {
    if (rec.warming !== w || this.stopped) return;
    w.timer = undefined;
    this.deps.log.warn(`cds: cluster ${rec.name}: no EDS assignment for "${w.eds}" within the initial fetch timeout (${ms} ms); activating it without hosts`);
    this.install(rec, w, emptyAssignment(w.eds));
    this.updateGauges();
    this.deps.onChange?.();
  }

  /** Make `w` the active cluster (one synchronous step) and release what the old one held. */
  private install(rec: ClusterRecord, w: WarmingState, assignment: Plain | undefined, isEds = true): void {
    const cm = this.deps.clusterManager;
    if (w.timer) { clearTimeout(w.timer); w.timer = undefined; }
    if (rec.warming === w) rec.warming = undefined;
    try {
      const c = cm.addOrUpdate(w.config, { addedViaApi: true, versionInfo: w.versionInfo });
      if (assignment !== undefined && c instanceof EdsCluster && c.lastAssignment !== assignment) cm.applyLoadAssignment(rec.name, assignment);
      if (!c.initialized) c.onInitialized(() => this.deps.onChange?.());
    } catch (e) {
      // Validated before; a failure here is a bug, not a control-plane error. Keep the old cluster.
      this.deps.log.error(`cds: cluster ${rec.name}: update failed after validation: ${(e as Error).message}`);
      if (isEds) this.deps.eds.unwatch(w.eds);
      return;
    }
    const old = rec.active;
    rec.active = { fingerprint: w.fingerprint, json: w.json, versionInfo: w.versionInfo, lastUpdated: w.lastUpdated, eds: isEds ? w.eds : undefined };
    if (old?.eds !== undefined) this.deps.eds.unwatch(old.eds);
  }

  private dropWarming(rec: ClusterRecord): void {
    const w = rec.warming;
    if (!w) return;
    this.bySvc = undefined;
    if (w.timer) clearTimeout(w.timer);
    rec.warming = undefined;
    this.deps.eds.unwatch(w.eds);
  }

  private removeCluster(name: string): void {
    const rec = this.records.get(name);
    if (!rec) return;
    this.bySvc = undefined;
    this.dropWarming(rec);
    if (rec.active) {
      this.deps.clusterManager.remove(name, { viaApi: true });
      if (rec.active.eds !== undefined) this.deps.eds.unwatch(rec.active.eds);
    }
    this.records.delete(name);
  }

  private updateGauges(): void {
    this.warmingGauge.set(warmingNamesOf(this.records).length);
  }

  /** Names of clusters warming (waiting for their first assignment). */
  warmingNames(): string[] {
    return warmingNamesOf(this.records);
  }

  /** No cluster warming and every cluster in the manager initialized. */
  isWarm(): boolean {
    for (const r of this.records.values()) if (r.warming) return false;
    for (const c of this.deps.clusterManager.all()) if (!c.initialized) return false;
    return true;
  }

  /** ClustersConfigDump fields: version_info, dynamic_active_clusters, dynamic_warming_clusters (proto3 JSON). */
  configDump(): { version_info?: string; dynamic_active_clusters?: object[]; dynamic_warming_clusters?: object[] } {
    const active: object[] = [];
    const warming: object[] = [];
    const names = [...this.records.keys()].sort();
    for (const name of names) {
      const rec = this.records.get(name)!;
      if (rec.active) active.push(dumpCluster(name, rec.active));
      if (rec.warming) warming.push(dumpCluster(name, rec.warming));
    }
    const out: { version_info?: string; dynamic_active_clusters?: object[]; dynamic_warming_clusters?: object[] } = {};
    if (this.versionInfo) out.version_info = this.versionInfo;
    if (active.length) out.dynamic_active_clusters = active;
    if (warming.length) out.dynamic_warming_clusters = warming;
    return out;
  }

  stop(): void {
    this.stopped = true;
    for (const rec of this.records.values()) if (rec.warming?.timer) { clearTimeout(rec.warming.timer); rec.warming.timer = undefined; }
  }
}

function dumpCluster(name: string, s: ActiveState): object {
  return {
    version_info: s.versionInfo,
    cluster: { '@type': TYPE.CLUSTER, ...redactJson(CLUSTER_TYPE, (s.json() ?? { name }) as Record<string, unknown>) },
    last_updated: new Date(s.lastUpdated).toISOString(),
  };
}

function emptyAssignment(svc: string): Plain {
  return { cluster_name: svc, endpoints: [], named_endpoints: {} };
}

/** EDS over ADS only: eds_config must be `ads: {}` (or self). */
function checkEdsConfigSource(c: Plain): void {
  const cs = c.eds_cluster_config?.eds_config;
  if (!cs) throw new ConfigError('eds_cluster_config.eds_config', 'required (remora gets EDS over ADS: eds_config: {ads: {}})');
  if (cs.ads || cs.self) return;
  const which = cs.api_config_source ? 'api_config_source' : cs.path_config_source ? 'path_config_source' : cs.path ? 'path' : '';
  throw new ConfigError(`eds_cluster_config.eds_config${which ? '.' + which : ''}`, 'only ADS config sources (ads: {}) are supported for EDS');
}

// LDS: dynamic listeners through the ListenerManager (addedViaApi: true, versionInfo).
//
// - Validation first: every added/changed listener is compiled once (ListenerManager.validate:
//   filter chains, HCM, route configs already known, ...) and the addresses of the resulting
//   listener set are checked for duplicates (Envoy: "has duplicate address ... as existing
//   listener"). Any failure NACKs the whole response with `Listener "<name>": <path>: <detail>`,
//   records error_state for that listener (config_dump) and changes nothing.
// - Identical configs are skipped; static (bootstrap) listeners are never changed or removed
//   through LDS (Envoy: "cannot be modified or removed via the LDS API"), the update is logged.
// - Warming: a listener whose HCMs use `rds` is handed to the ListenerManager only once every
//   route config it names is ready (received, or its initial fetch timed out). An existing
//   listener keeps serving while its replacement warms. The ListenerManager then does Envoy's
//   update: in place when only filter chains changed (untouched chains keep their connections),
//   else a new listener next to the old one, the old one draining.
// - Binding is asynchronous: a bind failure (port held by another process) cannot NACK the
//   response that was already ACKed; it is logged, counted (listener_manager.listener_create_failure)
//   and shown as the listener's error_state; the previous listener, if any, keeps serving.
// - Removal: the listener stops accepting and drains (drain time), its route config references
//   are released (RDS unsubscribed when nobody else uses the name).
import type { Plain } from '../../config/plain';
import type { Logger } from '../../server/context';
import type { Gauge, Store } from '../../stats/stats';
import type { ListenerManager } from '../../listener/listener_manager';
import { TYPE, type ResourceHandler, type ResourceUpdate } from '../types';
import { XdsRejection, checkDuplicates, fingerprint, initialFetchTimeoutMs, jsonOf, rejectResource, type JsonSource, warmingNamesOf } from './common';
import type { RouteConfigStore } from './rds';
import { redactJson } from '../../secret/redact';

export const LISTENER_TYPE = 'envoy.config.listener.v3.Listener';
const HCM_TYPE = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

interface ListenerState {
  fingerprint: string;
  config: Plain;
  json: JsonSource;
  versionInfo: string;
  lastUpdated: number;
  /** Route config names this state holds references on. */
  rds: string[];
}

interface WarmingState extends ListenerState {
  /** Handed to the ListenerManager (addOrUpdate in flight). */
  activating: boolean;
}

interface ErrorState {
  json: JsonSource;
  versionInfo: string;
  time: number;
  details: string;
}

interface ListenerRecord {
  name: string;
  active: ListenerState | undefined;
  warming: WarmingState | undefined;
  error: ErrorState | undefined;
  removed: boolean;
  /** ListenerManager updates in flight for this listener. */
  activating: number;
}

export interface LdsHandlerDeps {
  listenerManager: ListenerManager;
  routes: RouteConfigStore;
  stats: Store;
  log: Logger;
  onChange?: () => void;
}

/** The route config names (and their initial fetch timeouts) a listener's HCMs use through `rds`. */
export function rdsNamesOf(listener: Plain): { name: string; timeoutMs: number }[] {
  const out: { name: string; timeoutMs: number }[] = [];
  const chains: Plain[] = [...(Array.isArray(listener?.filter_chains) ? listener.filter_chains : [])];
  if (listener?.default_filter_chain) chains.push(listener.default_filter_chain);
  for (const ch of chains) {
    for (const f of Array.isArray(ch?.filters) ? ch.filters : []) {
      const tc = f?.typed_config;
      const t = typeof tc?.['@type'] === 'string' ? tc['@type'].slice(tc['@type'].lastIndexOf('/') + 1) : '';
      if (t !== HCM_TYPE || !tc.rds) continue;
      const name = tc.rds.route_config_name;
      if (typeof name === 'string' && name !== '' && !out.some((x) => x.name === name)) {
        out.push({ name, timeoutMs: initialFetchTimeoutMs(tc.rds.config_source) });
      }
    }
  }
  return out;
}

/** The socket addresses a listener occupies, as text ("0.0.0.0:80", a pipe path), for the duplicate check. */
export function listenerAddresses(listener: Plain): string[] {
  const out: string[] = [];
  const bind = listener?.bind_to_port === undefined ? true : !!listener.bind_to_port;
  const one = (a: Plain) => {
    if (!a) return;
    if (a.socket_address) {
      const sa = a.socket_address;
      const port = Number(sa.port_value ?? 0);
      if (port === 0 && bind) return; // several listeners may bind port 0
      const host = String(sa.address ?? '');
      out.push(`${sa.protocol === 'UDP' ? 'udp://' : ''}${host.includes(':') ? `[${host}]` : host}:${port}`);
    } else if (a.pipe) {
      out.push(String(a.pipe.path ?? ''));
    } else if (a.envoy_internal_address) {
      out.push(`envoy://${a.envoy_internal_address.server_listener_name ?? ''}`);
    }
  };
  one(listener?.address);
  for (const aa of Array.isArray(listener?.additional_addresses) ? listener.additional_addresses : []) one(aa?.address);
  return out;
}

export class LdsHandler implements ResourceHandler {
  private readonly records = new Map<string, ListenerRecord>();
  private readonly warmingGauge: Gauge;
  private inflight = 0;
  versionInfo = '';
  received = false;
  private stopped = false;

  constructor(private readonly deps: LdsHandlerDeps) {
    this.warmingGauge = deps.stats.gauge('listener_manager.total_listeners_warming', 'NeverImport');
    this.warmingGauge.set(0);
  }

  apply(update: ResourceUpdate): void {
    if (this.stopped) return;
    const lm = this.deps.listenerManager;
    checkDuplicates('Listener', update.added);
    const statics = new Map<string, Plain>();
    const current = new Map<string, Plain>(); // name -> config of what runs or warms now
    for (const l of lm.listeners()) {
      if (!l.addedViaApi) statics.set(l.name, l.config);
      current.set(l.name, l.config);
    }
    for (const rec of this.records.values()) if (rec.warming) current.set(rec.name, rec.warming.config);

    const changes: { name: string; config: Plain; fp: string; json: JsonSource; version: string }[] = [];
    const version = update.versionInfo;
    for (let i = 0; i < update.added.length; i++) {
      const r = update.added[i];
      const config = r.resource;
      const name = typeof config?.name === 'string' ? config.name : '';
      if (name === '') throw new XdsRejection(`Listener "${r.name}": name: listener name must not be empty (resource ${i})`);
      if (r.name && r.name !== name) throw new XdsRejection(`Listener "${r.name}": name: "${name}" does not match the resource name`);
      if (statics.has(name)) {
        this.deps.log.warn(`lds: listener ${name} is static; it cannot be modified via the API; update skipped`);
        continue;
      }
      const fp = fingerprint(config);
      const rec = this.records.get(name);
      if (rec && (rec.warming ? rec.warming.fingerprint : rec.active?.fingerprint) === fp) continue;
      try {
        lm.validate(config);
      } catch (e) {
        const err = rejectResource('Listener', name, e);
        this.recordError(name, jsonOf(r), r.version || version, err.message);
        throw err;
      }
      changes.push({ name, config, fp, json: jsonOf(r), version: r.version || version });
    }
    // The listener set after this update: no two listeners on one address.
    const after = new Map(current);
    for (const n of update.removed) if (!statics.has(n)) after.delete(n);
    for (const ch of changes) after.set(ch.name, ch.config);
    const byAddress = new Map<string, string[]>();
    for (const [n, cfg] of after) {
      for (const a of new Set(listenerAddresses(cfg))) {
        const l = byAddress.get(a);
        if (l) l.push(n); else byAddress.set(a, [n]);
      }
    }
    for (const ch of changes) {
      for (const a of listenerAddresses(ch.config)) {
        const other = byAddress.get(a)?.find((n) => n !== ch.name);
        if (other !== undefined) {
          const msg = `Listener "${ch.name}": address: duplicate address '${a}' as existing listener "${other}"`;
          this.recordError(ch.name, ch.json, ch.version, msg);
          throw new XdsRejection(msg);
        }
      }
    }

    // Commit: nothing below throws.
    this.received = true;
    this.versionInfo = version;
    for (const name of update.removed) {
      if (statics.has(name)) { this.deps.log.warn(`lds: listener ${name} is static; it cannot be removed via the API`); continue; }
      this.removeListener(name);
    }
    const now = Date.now();
    for (const ch of changes) {
      let rec = this.records.get(ch.name);
      if (!rec) { rec = { name: ch.name, active: undefined, warming: undefined, error: undefined, removed: false, activating: 0 }; this.records.set(ch.name, rec); }
      this.dropWarming(rec);
      if (rec.active && rec.active.fingerprint === ch.fp && rec.activating === 0) continue; // back to the active config
      const refs = rdsNamesOf(ch.config);
      for (const x of refs) this.deps.routes.ref(x.name, x.timeoutMs);
      rec.warming = { fingerprint: ch.fp, config: ch.config, json: ch.json, versionInfo: ch.version, lastUpdated: now, rds: refs.map((x) => x.name), activating: false };
      this.tryActivate(rec);
    }
    this.updateGauges();
    this.deps.onChange?.();
  }

  onExpired(_typeUrl: string, names: string[]): void {
    for (const name of names) {
      this.deps.log.warn(`lds: listener ${name} expired (TTL); removing it`);
      this.removeListener(name);
    }
    this.updateGauges();
    this.deps.onChange?.();
  }

  /** A route config became ready: activate the listeners that waited for it. */
  onRouteReady(): void {
    for (const rec of [...this.records.values()]) if (rec.warming && !rec.warming.activating) this.tryActivate(rec);
    this.updateGauges();
    this.deps.onChange?.();
  }

  private tryActivate(rec: ListenerRecord): void {
    const w = rec.warming;
    if (!w || w.activating || this.stopped) return;
    if (!w.rds.every((n) => this.deps.routes.isReady(n))) {
      this.deps.log.debug(`lds: listener ${rec.name} warming (waiting for route config ${w.rds.filter((n) => !this.deps.routes.isReady(n)).join(', ')})`);
      return;
    }
    w.activating = true;
    this.inflight++;
    rec.activating++;
    this.deps.listenerManager.addOrUpdate(w.config, { versionInfo: w.versionInfo, addedViaApi: true }).then(() => {
      if (rec.warming === w) rec.warming = undefined;
      if (rec.removed) {
        this.deps.listenerManager.remove(rec.name);
        this.releaseRoutes(w.rds);
        return;
      }
      const old = rec.active;
      rec.active = { fingerprint: w.fingerprint, config: w.config, json: w.json, versionInfo: w.versionInfo, lastUpdated: Date.now(), rds: w.rds };
      rec.error = undefined;
      if (old) this.releaseRoutes(old.rds);
    }, (e: unknown) => {
      const msg = `Listener "${rec.name}": ${(e as Error)?.message ?? String(e)}`;
      this.deps.log.error(`lds: ${msg}`);
      if (rec.warming === w) rec.warming = undefined;
      rec.error = { json: w.json, versionInfo: w.versionInfo, time: Date.now(), details: msg };
      this.releaseRoutes(w.rds);
    }).finally(() => {
      this.inflight--;
      rec.activating--;
      this.updateGauges();
      this.deps.onChange?.();
    });
  }

  private releaseRoutes(names: string[]): void {
    for (const n of names) this.deps.routes.unref(n);
  }

  private dropWarming(rec: ListenerRecord): void {
    const w = rec.warming;
    if (!w || w.activating) {
      // An activation in flight completes (and becomes active); a newer state replaces it after.
      if (w) rec.warming = undefined;
      return;
    }
    rec.warming = undefined;
    this.releaseRoutes(w.rds);
  }

  private removeListener(name: string): void {
    const rec = this.records.get(name);
    if (!rec) return;
    rec.removed = true;
    this.dropWarming(rec);
    if (rec.active) {
      this.deps.listenerManager.remove(name);
      this.releaseRoutes(rec.active.rds);
      rec.active = undefined;
    }
    this.records.delete(name);
  }

  private recordError(name: string, json: JsonSource, versionInfo: string, details: string): void {
    let rec = this.records.get(name);
    if (!rec) {
      rec = { name, active: undefined, warming: undefined, error: undefined, removed: false, activating: 0 };
      this.records.set(name, rec);
    }
    rec.error = { json, versionInfo, time: Date.now(), details };
  }

  private updateGauges(): void {
    this.warmingGauge.set(warmingNamesOf(this.records).length);
  }

  warmingNames(): string[] {
    return warmingNamesOf(this.records);
  }

  /** No listener warming and no ListenerManager update in flight. */
  isWarm(): boolean {
    if (this.inflight > 0) return false;
    for (const r of this.records.values()) if (r.warming) return false;
    return true;
  }

  /** ListenersConfigDump fields: version_info, dynamic_listeners (proto3 JSON). */
  configDump(): { version_info?: string; dynamic_listeners?: object[] } {
    const list: object[] = [];
    for (const name of [...this.records.keys()].sort()) {
      const rec = this.records.get(name)!;
      const d: Record<string, unknown> = { name };
      if (rec.active) d.active_state = dumpState(name, rec.active);
      if (rec.warming) d.warming_state = dumpState(name, rec.warming);
      if (rec.error) {
        d.error_state = {
          failed_configuration: { '@type': TYPE.LISTENER, ...redactJson(LISTENER_TYPE, (rec.error.json() ?? { name }) as Record<string, unknown>) },
          last_update_attempt: new Date(rec.error.time).toISOString(),
          details: rec.error.details,
          version_info: rec.error.versionInfo,
        };
      }
      if (rec.active || rec.warming || rec.error) list.push(d);
    }
    const out: { version_info?: string; dynamic_listeners?: object[] } = {};
    if (this.versionInfo) out.version_info = this.versionInfo;
    if (list.length) out.dynamic_listeners = list;
    return out;
  }

  stop(): void { this.stopped = true; }
}

function dumpState(name: string, s: ListenerState): object {
  return {
    version_info: s.versionInfo,
    listener: { '@type': TYPE.LISTENER, ...redactJson(LISTENER_TYPE, (s.json() ?? { name }) as Record<string, unknown>) },
    last_updated: new Date(s.lastUpdated).toISOString(),
  };
}

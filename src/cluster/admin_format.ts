// /clusters in Envoy's formats (source/server/admin/clusters_handler.cc):
//  - text: `<cluster>::<field>::<value>` lines;
//  - ?format=json: envoy.admin.v3.Clusters in proto3 JSON with default values omitted.
import { Counter, Gauge } from '../stats/stats';
import { HealthFlag, type Cluster, type ClusterManager, type Host, type ResourceManager } from './types';

/** Health flags in Envoy's HEALTH_FLAG_ENUM_VALUES order with their /clusters names. */
export const HEALTH_FLAG_NAMES: readonly (readonly [number, string])[] = [
  [HealthFlag.FailedActiveHc, 'failed_active_hc'],
  [HealthFlag.FailedOutlierCheck, 'failed_outlier_check'],
  [HealthFlag.FailedEdsHealth, 'failed_eds_health'],
  [HealthFlag.DegradedActiveHc, 'degraded_active_hc'],
  [HealthFlag.DegradedEdsHealth, 'degraded_eds_health'],
  [HealthFlag.PendingDynamicRemoval, 'pending_dynamic_removal'],
  [HealthFlag.PendingActiveHc, 'pending_active_hc'],
  [HealthFlag.ExcludedViaImmediateHcFail, 'excluded_via_immediate_hc_fail'],
  [HealthFlag.ActiveHcTimeout, 'active_hc_timeout'],
  [HealthFlag.EdsStatusDraining, 'eds_status_draining'],
];

/** Envoy HostUtility::healthFlagsToString. */
export function healthFlagsToString(flags: number): string {
  let s = '';
  for (const [bit, name] of HEALTH_FLAG_NAMES) if (flags & bit) s += '/' + name;
  return s === '' ? 'healthy' : s;
}

export interface ClustersRenderOptions {
  /** Only clusters whose name passes (the admin handler's ?filter= regex). */
  filter?: (name: string) => boolean;
}

/** A host's stats as Envoy's host->counters() then host->gauges(), in declaration order. */
function hostStats(h: Host): { counters: [string, number][]; gauges: [string, number][] } {
  const counters: [string, number][] = [];
  const gauges: [string, number][] = [];
  const s = h.stats as unknown as Record<string, unknown>;
  for (const k of Object.keys(s)) {
    const v = s[k];
    if (v instanceof Counter) counters.push([k, v.value]);
    else if (v instanceof Gauge) gauges.push([k, v.value]);
  }
  return { counters, gauges };
}

/** fmt's {} for a double: the shortest round-trip form (-1, 43.2). */
function fmtDouble(v: number): string {
  return String(v);
}

/** printf %g: 6 significant digits, trailing zeros trimmed, exponent form outside [1e-4, 1e6). */
export function fmtG(v: number): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const exp = Math.floor(Math.log10(Math.abs(Number(v.toPrecision(6)))));
  if (exp < -4 || exp >= 6) {
    const [m, e] = v.toExponential(5).split('e');
    const mant = m.includes('.') ? m.replace(/0+$/, '').replace(/\.$/, '') : m;
    const en = Number(e);
    return `${mant}e${en < 0 ? '-' : '+'}${String(Math.abs(en)).padStart(2, '0')}`;
  }
  const f = v.toFixed(Math.max(0, 5 - exp));
  return f.includes('.') ? f.replace(/0+$/, '').replace(/\.$/, '') : f;
}

function successRate(h: Host, type: 'external' | 'local'): number {
  return h.outlier ? h.outlier.successRate(type) : -1;
}

function cbText(lines: string[], name: string, prio: string, rm: ResourceManager): void {
  lines.push(`${name}::${prio}_priority::max_connections::${rm.connections.max}`);
  lines.push(`${name}::${prio}_priority::max_pending_requests::${rm.pendingRequests.max}`);
  lines.push(`${name}::${prio}_priority::max_requests::${rm.requests.max}`);
  lines.push(`${name}::${prio}_priority::max_retries::${rm.retries.max}`);
}

function clusterText(lines: string[], c: Cluster): void {
  const info = c.info;
  const name = info.name;
  lines.push(`${name}::observability_name::${info.observabilityName}`);
  const od = c.outlierDetector;
  if (od) {
    lines.push(`${name}::outlier::success_rate_average::${fmtG(od.successRateAverage('external'))}`);
    lines.push(`${name}::outlier::success_rate_ejection_threshold::${fmtG(od.successRateEjectionThreshold('external'))}`);
    lines.push(`${name}::outlier::local_origin_success_rate_average::${fmtG(od.successRateAverage('local'))}`);
    lines.push(`${name}::outlier::local_origin_success_rate_ejection_threshold::${fmtG(od.successRateEjectionThreshold('local'))}`);
  }
  cbText(lines, name, 'default', info.resourceManagers[0]);
  cbText(lines, name, 'high', info.resourceManagers[1]);
  lines.push(`${name}::added_via_api::${info.addedViaApi}`);
  if (info.edsServiceName) lines.push(`${name}::eds_service_name::${info.edsServiceName}`);
  for (const hosts of c.hostsByPriority()) {
    for (const h of hosts) {
      const a = h.key;
      const p = `${name}::${a}::`;
      const { counters, gauges } = hostStats(h);
      // std::map<string_view, uint64_t>: sorted by name, a later duplicate overwrites.
      const all = new Map<string, number>();
      for (const [k, v] of counters) all.set(k, v);
      for (const [k, v] of gauges) all.set(k, v);
      for (const k of [...all.keys()].sort()) lines.push(`${p}${k}::${all.get(k)}`);
      lines.push(`${p}hostname::${h.hostname}`);
      lines.push(`${p}health_flags::${healthFlagsToString(h.healthFlags)}`);
      lines.push(`${p}weight::${h.weight}`);
      lines.push(`${p}region::${h.locality.region}`);
      lines.push(`${p}zone::${h.locality.zone}`);
      lines.push(`${p}sub_zone::${h.locality.sub_zone}`);
      lines.push(`${p}canary::${h.canary}`);
      lines.push(`${p}priority::${h.priority}`);
      lines.push(`${p}success_rate::${fmtDouble(successRate(h, 'external'))}`);
      lines.push(`${p}local_origin_success_rate::${fmtDouble(successRate(h, 'local'))}`);
    }
  }
}

/** GET /clusters */
export function renderClustersText(cm: ClusterManager, opts?: ClustersRenderOptions): string {
  const lines: string[] = [];
  for (const c of cm.all()) {
    if (opts?.filter && !opts.filter(c.info.name)) continue;
    clusterText(lines, c);
  }
  return lines.length ? lines.join('\n') + '\n' : '';
}

type Json = Record<string, unknown>;

function thresholdsJson(prio: 'DEFAULT' | 'HIGH', rm: ResourceManager): Json {
  const t: Json = {};
  if (prio !== 'DEFAULT') t.priority = prio;
  // UInt32Value wrappers are always present (set explicitly), even when 0.
  t.max_connections = rm.connections.max;
  t.max_pending_requests = rm.pendingRequests.max;
  t.max_requests = rm.requests.max;
  t.max_retries = rm.retries.max;
  return t;
}

function addressJson(h: Host): Json {
  if (h.pipePath) return { pipe: { path: h.pipePath } };
  const sa: Json = { address: h.address };
  if (h.port !== 0) sa.port_value = h.port;
  return { socket_address: sa };
}

function hostJson(h: Host): Json {
  const out: Json = { address: addressJson(h) };
  const { counters, gauges } = hostStats(h);
  const stats: Json[] = [];
  // SimpleMetric: value is uint64 (a JSON string); type COUNTER is the default and omitted.
  for (const [k, v] of counters) { const m: Json = {}; if (k) m.name = k; if (v) m.value = String(v); stats.push(m); }
  for (const [k, v] of gauges) { const m: Json = { type: 'GAUGE' }; if (k) m.name = k; if (v) m.value = String(v); stats.push(m); }
  if (stats.length) out.stats = stats;
  const f = h.healthFlags;
  const hs: Json = {};
  if (f & HealthFlag.FailedActiveHc) hs.failed_active_health_check = true;
  if (f & HealthFlag.FailedOutlierCheck) hs.failed_outlier_check = true;
  hs.eds_health_status = f & HealthFlag.FailedEdsHealth ? 'UNHEALTHY'
    : f & HealthFlag.EdsStatusDraining ? 'DRAINING'
      : f & HealthFlag.DegradedEdsHealth ? 'DEGRADED' : 'HEALTHY';
  if (f & HealthFlag.DegradedActiveHc) hs.failed_active_degraded_check = true;
  if (f & HealthFlag.PendingDynamicRemoval) hs.pending_dynamic_removal = true;
  if (f & HealthFlag.PendingActiveHc) hs.pending_active_hc = true;
  if (f & HealthFlag.ExcludedViaImmediateHcFail) hs.excluded_via_immediate_hc_fail = true;
  if (f & HealthFlag.ActiveHcTimeout) hs.active_hc_timeout = true;
  out.health_status = hs;
  const sr = successRate(h, 'external');
  if (sr >= 0) out.success_rate = sr === 0 ? {} : { value: sr };
  if (h.weight) out.weight = h.weight;
  if (h.hostname) out.hostname = h.hostname;
  if (h.priority) out.priority = h.priority;
  const lsr = successRate(h, 'local');
  if (lsr >= 0) out.local_origin_success_rate = lsr === 0 ? {} : { value: lsr };
  const loc: Json = {};
  if (h.locality.region) loc.region = h.locality.region;
  if (h.locality.zone) loc.zone = h.locality.zone;
  if (h.locality.sub_zone) loc.sub_zone = h.locality.sub_zone;
  out.locality = loc;
  return out;
}

function clusterJson(c: Cluster): Json {
  const info = c.info;
  const out: Json = { name: info.name };
  if (info.observabilityName) out.observability_name = info.observabilityName;
  if (info.edsServiceName) out.eds_service_name = info.edsServiceName;
  const od = c.outlierDetector;
  if (od) {
    const ext = od.successRateEjectionThreshold('external');
    if (ext > 0) out.success_rate_ejection_threshold = { value: ext };
    const loc = od.successRateEjectionThreshold('local');
    if (loc > 0) out.local_origin_success_rate_ejection_threshold = { value: loc };
  }
  if (info.addedViaApi) out.added_via_api = true;
  out.circuit_breakers = { thresholds: [thresholdsJson('DEFAULT', info.resourceManagers[0]), thresholdsJson('HIGH', info.resourceManagers[1])] };
  const hosts: Json[] = [];
  for (const hs of c.hostsByPriority()) for (const h of hs) hosts.push(hostJson(h));
  if (hosts.length) out.host_statuses = hosts;
  return out;
}

/** GET /clusters?format=json (serialize with JSON.stringify(obj, null, 1) for Envoy's pretty print). */
export function renderClustersJson(cm: ClusterManager, opts?: ClustersRenderOptions): Json {
  const statuses: Json[] = [];
  for (const c of cm.all()) {
    if (opts?.filter && !opts.filter(c.info.name)) continue;
    statuses.push(clusterJson(c));
  }
  return statuses.length ? { cluster_statuses: statuses } : {};
}

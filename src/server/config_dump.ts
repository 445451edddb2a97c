// /config_dump: admin.v3.ConfigDump built from the bootstrap as proto3 JSON
// (snake_case field names, as Envoy prints them).
import type { Server } from './server';
import { toJSON } from '../config/json';
import { redactJson } from '../secret/redact';

const T = (n: string) => 'type.googleapis.com/envoy.admin.v3.' + n;
const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

type Json = Record<string, unknown>;

export interface ConfigDumpQuery { resource?: string; mask?: string; nameRegex?: string; includeEds: boolean }

export function buildConfigDump(server: Server, q: ConfigDumpQuery = { includeEds: false }): Json {
  const startedIso = new Date(server.startedAtMs).toISOString();
  const bootstrap = bootstrapJson(server);
  const sr = (bootstrap.static_resources ?? {}) as Json;
  const clusters = ((sr.clusters ?? []) as Json[]).map((c) => ({ cluster: { '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', ...c }, last_updated: startedIso }));
  const listeners = ((sr.listeners ?? []) as Json[]).map((l) => ({ listener: { '@type': 'type.googleapis.com/envoy.config.listener.v3.Listener', ...l }, last_updated: startedIso }));
  const routes: Json[] = [];
  for (const l of (sr.listeners ?? []) as Json[]) {
    for (const fc of [...((l.filter_chains ?? []) as Json[]), ...(l.default_filter_chain ? [l.default_filter_chain as Json] : [])]) {
      for (const f of (fc.filters ?? []) as Json[]) {
        const tc = f.typed_config as Json | undefined;
        if (tc && tc['@type'] === HCM && tc.route_config) {
          routes.push({ route_config: { '@type': 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration', ...(tc.route_config as Json) }, last_updated: startedIso });
        }
      }
    }
  }
  // xDS (src/xds/dynamic.ts): dynamic_* sections; secrets (static and SDS) from the secret store.
  const dyn = server.dynamic?.configDump(q.includeEds);
  const cds = dyn?.clusters ?? {};
  const lds = dyn?.listeners ?? {};
  const configs: Json[] = [
    { '@type': T('BootstrapConfigDump'), bootstrap, last_updated: startedIso },
    { '@type': T('ClustersConfigDump'), ...(cds.version_info ? { version_info: cds.version_info } : {}), static_clusters: clusters, ...omitVersion(cds) },
    { '@type': T('ListenersConfigDump'), ...(lds.version_info ? { version_info: lds.version_info } : {}), static_listeners: listeners, ...omitVersion(lds) },
    { '@type': T('ScopedRoutesConfigDump') },
    { '@type': T('RoutesConfigDump'), static_route_configs: routes, ...(dyn?.routes ?? {}) },
    { '@type': T('SecretsConfigDump'), ...(server.secretStore?.configDump() ?? {}) },
  ];
  if (q.includeEds) {
    const eps = clustersWithAssignments(sr);
    configs.splice(2, 0, { '@type': T('EndpointsConfigDump'), static_endpoint_configs: eps.map((e) => ({ endpoint_config: e, last_updated: startedIso })), ...(dyn?.endpoints ?? {}) });
  }
  return { configs };
}

function omitVersion<T extends { version_info?: string }>(o: T): Omit<T, 'version_info'> {
  const { version_info: _v, ...rest } = o;
  return rest;
}

function clustersWithAssignments(sr: Json): Json[] {
  const out: Json[] = [];
  for (const c of (sr.clusters ?? []) as Json[]) {
    if (c.load_assignment) out.push({ '@type': 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment', cluster_name: c.name, ...(c.load_assignment as Json) });
  }
  return out;
}

let cached: { server: Server; json: Json } | undefined;
function bootstrapJson(server: Server): Json {
  if (cached && cached.server === server) return cached.json;
  // Sensitive fields (private keys, passwords, generic secrets) are redacted, as in Envoy.
  const json = server.bootstrapMessage ? redactJson('envoy.config.bootstrap.v3.Bootstrap', toJSON('envoy.config.bootstrap.v3.Bootstrap', server.bootstrapMessage) as Json) : {};
  cached = { server, json };
  return json;
}


// The seam between the ADS client (src/xds/client*.ts: transport, SotW/delta protocol,
// ACK/NACK, backoff) and the resource handlers (src/xds/handlers/*.ts: CDS/EDS/LDS/RDS/SDS
// applied to the cluster manager, listener manager, route providers, secret store).
import type { Plain } from '../config/plain';

export const TYPE = {
  LISTENER: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  ROUTE: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  CLUSTER: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  ENDPOINT: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  SECRET: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
} as const;

/** One resource out of a DiscoveryResponse, already decoded and validated into plain form. */
export interface DecodedResource {
  name: string;
  /** Per-resource version (delta) or the response version_info (SotW). */
  version: string;
  /** Plain form (src/config/plain.ts) of the resource message. */
  resource: Plain;
  /** The resource message as proto3 JSON, for /config_dump. */
  json: object;
  /** Resource TTL in ms (delta Resource.ttl or SotW Resource wrapper), if any. */
  ttlMs?: number;
}

export interface ResourceUpdate {
  typeUrl: string;
  /** SotW version_info, or delta system_version_info. */
  versionInfo: string;
  /** Added or changed resources. */
  added: DecodedResource[];
  /**
   * Removed resource names: delta removed_resources, or, for SotW LDS/CDS (full state),
   * the names the client had before that this response no longer carries.
   */
  removed: string[];
  /** True for SotW responses of full-state types (LDS, CDS). */
  isFullState: boolean;
}

export interface ResourceHandler {
  /**
   * Apply an update. Throw (a ConfigError preferably) to NACK it; the message becomes
   * error_detail and must name the resource and field, e.g.
   *   `Cluster "svc-a": lb_policy: unknown enum value "ROUND_ROBN"`.
   * A throwing apply must leave the previous config serving.
   */
  apply(update: ResourceUpdate): void;
  /** The resource's TTL expired without a refresh (xDS TTL): treat as removed. */
  onExpired?(typeUrl: string, names: string[]): void;
}

export interface TypeStatus {
  typeUrl: string;
  wildcard: boolean;
  subscribed: string[];
  lastAckedVersion: string;
  lastAckedNonce: string;
  lastUpdated: string; // ISO time of last accepted update
  lastNack?: { version: string; nonce: string; error: string; time: string };
}

export interface XdsClient {
  /** Register the handler for a type URL (one per type). */
  setHandler(typeUrl: string, handler: ResourceHandler): void;
  /** Add names to this type's subscription ('*' = wildcard). Sends a request when the set changes. */
  subscribe(typeUrl: string, names: string[] | '*'): void;
  /** Remove names from this type's subscription. */
  unsubscribe(typeUrl: string, names: string[]): void;
  start(): void;
  stop(): void;
  connected(): boolean;
  status(): TypeStatus[];
}

// xDS wire protocol pieces shared by the client (src/xds/client.ts) and the test control
// plane (src/xds/control_plane/): the protobufjs types of the discovery messages (from the
// build-time Envoy descriptor, no .proto parsing at runtime), the gRPC method paths of the
// aggregated and per-type discovery services, and small helpers.
import type * as protobuf from 'protobufjs';
import { lookupType } from '../config/protos';
import { longToNumber } from '../config/schema';
import { TYPE } from './types';

export const RESOURCE_WRAPPER_URL = 'type.googleapis.com/envoy.service.discovery.v3.Resource';

/** Which gRPC service one stream talks to: ADS, or one of the per-type discovery services. */
export type XdsService = 'ads' | 'listeners' | 'routes' | 'clusters' | 'endpoints' | 'secrets';
/** ApiConfigSource.api_type values remora speaks over gRPC. */
export type XdsApiType = 'GRPC' | 'DELTA_GRPC';

interface ServiceInfo {
  /** Full service name. */
  service: string;
  sotw: string;
  delta: string;
  /** The single type URL a per-type service carries; undefined for ADS. */
  typeUrl?: string;
}

export const SERVICES: Record<XdsService, ServiceInfo> = {
  ads: { service: 'envoy.service.discovery.v3.AggregatedDiscoveryService', sotw: 'StreamAggregatedResources', delta: 'DeltaAggregatedResources' },
  listeners: { service: 'envoy.service.listener.v3.ListenerDiscoveryService', sotw: 'StreamListeners', delta: 'DeltaListeners', typeUrl: TYPE.LISTENER },
  routes: { service: 'envoy.service.route.v3.RouteDiscoveryService', sotw: 'StreamRoutes', delta: 'DeltaRoutes', typeUrl: TYPE.ROUTE },
  clusters: { service: 'envoy.service.cluster.v3.ClusterDiscoveryService', sotw: 'StreamClusters', delta: 'DeltaClusters', typeUrl: TYPE.CLUSTER },
  endpoints: { service: 'envoy.service.endpoint.v3.EndpointDiscoveryService', sotw: 'StreamEndpoints', delta: 'DeltaEndpoints', typeUrl: TYPE.ENDPOINT },
  secrets: { service: 'envoy.service.secret.v3.SecretDiscoveryService', sotw: 'StreamSecrets', delta: 'DeltaSecrets', typeUrl: TYPE.SECRET },
};

/** gRPC method path, e.g. /envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources. */
export function methodPath(service: XdsService, delta: boolean): string {
  const s = SERVICES[service];
  return `/${s.service}/${delta ? s.delta : s.sotw}`;
}

/** The per-type service that carries a type URL (for api_config_source without ADS). */
export function serviceForType(typeUrl: string): XdsService | undefined {
  for (const k of Object.keys(SERVICES) as XdsService[]) if (SERVICES[k].typeUrl === typeUrl) return k;
  return undefined;
}

/** SotW full-state types: a response carries every resource, absence means deletion. */
export function isFullStateType(typeUrl: string): boolean {
  return typeUrl === TYPE.LISTENER || typeUrl === TYPE.CLUSTER;
}

/** Short type name for messages: "Cluster", "Listener", "ClusterLoadAssignment", ... */
export function kindOf(typeUrl: string): string {
  const dot = typeUrl.lastIndexOf('.');
  return dot >= 0 ? typeUrl.slice(dot + 1) : typeUrl;
}

/** Short xDS name of a type: lds, rds, cds, eds, sds; else the lower-cased kind. */
export function xdsShortName(typeUrl: string): string {
  switch (typeUrl) {
    case TYPE.LISTENER: return 'lds';
    case TYPE.ROUTE: return 'rds';
    case TYPE.CLUSTER: return 'cds';
    case TYPE.ENDPOINT: return 'eds';
    case TYPE.SECRET: return 'sds';
    default: return kindOf(typeUrl).toLowerCase();
  }
}

export interface DiscoveryTypes {
  DiscoveryRequest: protobuf.Type;
  DiscoveryResponse: protobuf.Type;
  DeltaDiscoveryRequest: protobuf.Type;
  DeltaDiscoveryResponse: protobuf.Type;
  Resource: protobuf.Type;
  Node: protobuf.Type;
}

let types: DiscoveryTypes | undefined;

/** protobufjs types of the discovery messages (snake_case field names). */
export function discoveryTypes(): DiscoveryTypes {
  if (!types) {
    const get = (n: string): protobuf.Type => {
      const t = lookupType(n);
      if (!t) throw new Error(`Envoy descriptor lacks ${n}`);
      return t;
    };
    types = {
      DiscoveryRequest: get('envoy.service.discovery.v3.DiscoveryRequest'),
      DiscoveryResponse: get('envoy.service.discovery.v3.DiscoveryResponse'),
      DeltaDiscoveryRequest: get('envoy.service.discovery.v3.DeltaDiscoveryRequest'),
      DeltaDiscoveryResponse: get('envoy.service.discovery.v3.DeltaDiscoveryResponse'),
      Resource: get('envoy.service.discovery.v3.Resource'),
      Node: get('envoy.config.core.v3.Node'),
    };
  }
  return types;
}

/** Encode a message object (protobufjs message or plain object with proto field names). */
export function encodeMessage(type: protobuf.Type, msg: object): Buffer {
  const bytes = type.encode(msg as protobuf.Message).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * A view protobufjs decodes strictly. Given a Node Buffer, protobufjs uses its BufferReader,
 * which clamps a length-delimited field running past the end instead of failing; a plain
 * Uint8Array gets the bounds-checked Reader, so truncated messages are errors.
 */
export function strictBytes(b: Uint8Array): Uint8Array {
  return Buffer.isBuffer(b) ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : b;
}

/** google.protobuf.Duration message -> ms; undefined when absent. */
export function durationMs(d: { seconds?: unknown; nanos?: unknown } | null | undefined): number | undefined {
  if (!d) return undefined;
  return longToNumber(d.seconds ?? 0, false) * 1000 + (Number(d.nanos) || 0) / 1e6;
}

/** ms -> google.protobuf.Duration object. */
export function msDuration(ms: number): { seconds: number; nanos: number } {
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

/** Envoy truncates error_detail messages (Config::Utility::truncateGrpcStatusMessage). */
export const MAX_ERROR_DETAIL_LEN = 4096;

export function truncateStatusMessage(msg: string): string {
  if (msg.length <= MAX_ERROR_DETAIL_LEN) return msg;
  return msg.slice(0, MAX_ERROR_DETAIL_LEN) + '...(truncated)';
}

/** gRPC status code Envoy puts in error_detail of a NACK (Grpc::Status::WellKnownGrpcStatus::Internal). */
export const NACK_STATUS_CODE = 13;

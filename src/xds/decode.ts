// Decoding one xDS resource (a packed Any of the response's type) into the DecodedResource
// the handlers receive: protobuf decode, PGV validation, plain form, and a lazily built
// proto3 JSON copy for /config_dump. Errors name the resource:
//   Cluster "svc-a": lb_policy: unknown enum value 12
import type * as protobuf from 'protobufjs';
import { ConfigError } from '../config/errors';
import { toJSON, toPlain } from '../config/json';
import { lookupType } from '../config/protos';
import { validateMessage } from '../config/validate';
import { kindOf, strictBytes } from './protocol';
import type { DecodedResource } from './types';

/** A resource the client cannot accept; `message` is the NACK error_detail text. */
export class XdsResourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XdsResourceError';
  }
}

/** How a resource is referred to in errors: `Cluster "name"`, or `Cluster (resource #3)` without a name. */
export function resourceLabel(typeUrl: string, name: string | undefined, index: number): string {
  return name ? `${kindOf(typeUrl)} "${name}"` : `${kindOf(typeUrl)} (resource #${index})`;
}

/** The name of a decoded resource message: `name`, or `cluster_name` for ClusterLoadAssignment. */
export function resourceName(msg: Record<string, unknown>): string {
  const n = msg.name;
  if (typeof n === 'string' && n) return n;
  const c = msg.cluster_name;
  if (typeof c === 'string') return c;
  return typeof n === 'string' ? n : '';
}

function errorText(e: unknown): string {
  if (e instanceof ConfigError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

/**
 * Decode and validate the bytes of one resource of `typeUrl`. `wrapperName` is the name
 * given by a Resource wrapper (delta, or SotW with the wrapper), which wins over the name
 * inside the message. Throws XdsResourceError.
 */
export function decodeResource(
  typeUrl: string,
  bytes: Uint8Array,
  index: number,
  version: string,
  wrapperName?: string,
  ttlMs?: number,
): DecodedResource {
  const type = lookupType(typeUrl);
  if (!type) throw new XdsResourceError(`${resourceLabel(typeUrl, wrapperName, index)}: unknown resource type "${typeUrl}"`);
  let msg: protobuf.Message;
  try {
    msg = type.decode(strictBytes(bytes));
  } catch (e) {
    throw new XdsResourceError(`${resourceLabel(typeUrl, wrapperName, index)}: unable to decode ${kindOf(typeUrl)}: ${errorText(e)}`);
  }
  const name = wrapperName || resourceName(msg as unknown as Record<string, unknown>);
  const label = resourceLabel(typeUrl, name, index);
  const typeName = type.fullName.replace(/^\./, '');
  let resource;
  try {
    validateMessage(typeName, msg);
    resource = toPlain(typeName, msg);
  } catch (e) {
    if (e instanceof RangeError) throw new XdsResourceError(`${label}: config is nested too deeply`);
    throw new XdsResourceError(`${label}: ${errorText(e)}`);
  }
  return makeDecoded(typeName, name, version, resource, msg, ttlMs);
}

function makeDecoded(typeName: string, name: string, version: string, resource: unknown, message: protobuf.Message, ttlMs: number | undefined): DecodedResource {
  let json: object | undefined;
  let msg: protobuf.Message | undefined = message;
  const d = { name, version, resource } as DecodedResource;
  // proto3 JSON is only needed by /config_dump: build it on first use.
  Object.defineProperty(d, 'json', {
    enumerable: true,
    configurable: true,
    get(): object {
      if (json === undefined) {
        try {
          json = toJSON(typeName, msg as protobuf.Message);
        } catch (e) {
          json = { '@error': errorText(e) };
        }
        msg = undefined; // the message is not needed any more
      }
      return json;
    },
  });
  if (ttlMs !== undefined) d.ttlMs = ttlMs;
  return d;
}

// Extension registries keyed by the config proto's full type URL, with the
// canonical `envoy.filters...` name as an alias. Each extension folder's config.ts
// calls register() at import time; src/extensions.ts imports them all.
import type { PlainAny } from '../config/plain';

export type ExtensionCategory =
  | 'network_filter'
  | 'http_filter'
  | 'listener_filter'
  | 'access_logger'
  | 'transport_socket'
  | 'upstream_protocol_options'
  | 'cluster'
  | 'retry_host_predicate'
  | 'retry_priority'
  | 'tracer'
  | 'stat_sink';

export interface ExtensionFactory<T = unknown> {
  /** Full proto type names accepted (e.g. 'envoy.extensions.filters.http.router.v3.Router'). */
  typeNames: string[];
  /** Canonical extension names (e.g. 'envoy.filters.http.router'). */
  names?: string[];
  /**
   * Validate and compile the plain typed_config once. Throws ConfigError (field-path
   * message, relative to the config) when the config cannot be honoured.
   */
  create(config: PlainAny, ctx: FactoryContext): T;
  /** Accepted but changes nothing (Istio's stats/metadata-exchange extensions). Listed in the README. */
  noop?: boolean;
}

/** What a factory may need from the server while compiling. Kept small on purpose. */
export interface FactoryContext {
  /** Field path of this extension config, for error messages. */
  path: string;
  /** Anything the server wires in (cluster manager, stats store, ...). */
  [key: string]: unknown;
}

const registries = new Map<ExtensionCategory, Map<string, ExtensionFactory>>();

export function register<T>(category: ExtensionCategory, factory: ExtensionFactory<T>): void {
  let reg = registries.get(category);
  if (!reg) { reg = new Map(); registries.set(category, reg); }
  for (const k of [...factory.typeNames, ...(factory.names ?? [])]) reg.set(k, factory as ExtensionFactory);
}

/** Look up by type URL, full type name, or canonical name. */
export function lookup<T>(category: ExtensionCategory, typeUrlOrName: string): ExtensionFactory<T> | undefined {
  const reg = registries.get(category);
  if (!reg) return undefined;
  const slash = typeUrlOrName.lastIndexOf('/');
  const key = slash >= 0 ? typeUrlOrName.slice(slash + 1) : typeUrlOrName;
  return reg.get(key) as ExtensionFactory<T> | undefined;
}

export function registered(category: ExtensionCategory): ExtensionFactory[] {
  return [...new Set(registries.get(category)?.values() ?? [])];
}

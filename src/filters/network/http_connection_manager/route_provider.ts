// The seam between the HCM and its route table source. Inline route_config is a
// static provider; RDS (a later issue) plugs in a provider whose current() returns
// the latest compiled RouteConfiguration. Each stream snapshots current() once when
// its request headers arrive, so a swap is atomic: new streams see the new table,
// in-flight streams keep the one they started with.
import type { CompiledRouteConfig, CompileRouteConfigOptions } from '../../../router';
import type { Plain } from '../../../config/plain';

export interface RouteConfigProvider {
  /** The route table new streams use; null while none is available yet (requests then get 404 NR). */
  current(): CompiledRouteConfig | null;
  /** Called when the HCM config that owns the provider is destroyed (unsubscribe). */
  release?(): void;
}

export class StaticRouteConfigProvider implements RouteConfigProvider {
  constructor(private readonly config: CompiledRouteConfig) {}
  current(): CompiledRouteConfig { return this.config; }
}

/**
 * What the server may hand the HCM factory (FactoryContext.rdsProviderFactory) to support `rds`:
 * given the plain Rds message and the compile options (per-filter config compilation, cluster
 * validation) and the HCM's stat_prefix (for http.<stat_prefix>.rds.<name>.* stats), return a
 * provider. Throw ConfigError (path relative to `rds`) to reject.
 */
export type RdsProviderFactory = (rds: Plain, compileOptions: CompileRouteConfigOptions, statPrefix: string) => RouteConfigProvider;

// The server-wide objects that extension factories and managers receive.
import type { Store } from '../stats/stats';
import type { ClusterManager } from '../cluster/types';
import type { Plain } from '../config/plain';

export interface LocalInfo {
  nodeId: string;
  clusterName: string;
  zone: string;
  node: Plain; // envoy.config.core.v3.Node plain form
}

export interface Logger {
  trace(msg: string): void; debug(msg: string): void; info(msg: string): void;
  warn(msg: string): void; error(msg: string): void; critical(msg: string): void;
}

export interface ServerContext {
  stats: Store;
  clusterManager: ClusterManager;
  localInfo: LocalInfo;
  log: Logger;
  /** Envoy --drain-time-s, ms. */
  drainTimeMs: number;
  /** Runtime value lookup (runtime_fraction etc.); static layer only for now. */
  runtime: { getNumber(key: string, dflt: number): number; getBool(key: string, dflt: boolean): boolean };
}

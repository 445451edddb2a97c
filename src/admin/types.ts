// The admin server's contract with the rest of remora: a small provider object the
// server wires up, and the handler table each topic file contributes to.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Store } from '../stats/stats';
import type { QueryParams } from './query';

export type ServerState = 'LIVE' | 'DRAINING' | 'PRE_INITIALIZING' | 'INITIALIZING';

export interface ServerInfoSnapshot {
  version: string;
  state: ServerState;
  uptimeCurrentEpochS: number;
  uptimeAllEpochsS: number;
  /** envoy.admin.v3.CommandLineOptions in proto-JSON form (snake_case). */
  commandLineOptions: object;
  /** envoy.config.core.v3.Node in proto-JSON form. */
  node: object;
  /** Which data-path implementation is active (architecture rule 7); rendered as "native_path". */
  nativePath?: string;
}

export interface ConfigDumpQuery {
  resource?: string;
  mask?: string;
  nameRegex?: string;
  includeEds: boolean;
}

/** An IP socket address, or Envoy's text form of an address ("0.0.0.0:15001", "[::]:80", a pipe path). */
export type ListenerAddress = { address: string; port: number } | string;

export interface ListenerInfo {
  name: string;
  localAddress: ListenerAddress;
  additionalLocalAddresses?: ListenerAddress[];
}

/** A handler added by other parts of remora (e.g. /xds_status). */
export interface AdminExtraHandler {
  help?: string;
  /** POST required (GET answers 405 like Envoy's mutating endpoints). */
  mutatesState?: boolean;
  handler: (req: IncomingMessage, res: ServerResponse) => void;
}

export interface AdminProviders {
  stats: Store;
  /** Called before /stats and /stats/prometheus render (refresh server.* gauges etc.). */
  beforeStats?(): void;
  serverInfo(): ServerInfoSnapshot;
  /** /clusters text output (src/cluster/admin_format.ts). */
  clustersText?(): string;
  /** /clusters?format=json: envoy.admin.v3.Clusters in proto-JSON form. */
  clustersJson?(): object;
  /**
   * envoy.admin.v3.ConfigDump in proto-JSON form: { configs: [ { '@type': ..., ... }, ... ] }, in
   * Envoy's order (bootstrap, clusters, endpoints when includeEds, listeners, scoped routes, routes,
   * secrets), plus EndpointsConfigDump when query.includeEds. The admin server applies ?resource=,
   * ?mask= and ?name_regex= itself, so it always calls this with only includeEds set.
   */
  configDump(query: ConfigDumpQuery): object;
  listeners(): ListenerInfo[];
  drainListeners(opts: { inboundOnly: boolean; graceful: boolean; skipExit: boolean }): void;
  healthcheckFail(): void;
  healthcheckOk(): void;
  /** Called after the /quitquitquit response has been sent. */
  quit(): void;
  /** /runtime: { layers: string[], entries: { key: { layer_values: string[], final_value: string } } }. */
  runtime?(): object;
  /** POST /runtime_modify?k=v: apply admin-layer overrides; throw to report a failure (503). */
  runtimeModify?(overrides: Record<string, string>): void;
  /** /certs: envoy.admin.v3.Certificates in proto-JSON form. */
  certs?(): object;
  /** POST /reopen_logs. */
  reopenLogs?(): void;
  extraHandlers?: Map<string, AdminExtraHandler | ((req: IncomingMessage, res: ServerResponse) => void)>;
}

export interface AdminServer {
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

/** What a built-in handler returns. */
export interface AdminResponse {
  status: number;
  body: string;
  /** Defaults to text/plain; charset=UTF-8. */
  contentType?: string;
  /** Runs once the response has been written (e.g. /quitquitquit). */
  after?: () => void;
}

export interface HandlerContext {
  method: string;
  path: string;
  query: QueryParams;
}

export interface ParamDescriptor {
  id: string;
  help: string;
  enumChoices?: readonly string[];
}

export interface UrlHandler {
  prefix: string;
  help: string;
  mutatesState: boolean;
  params?: readonly ParamDescriptor[];
  handler?: (ctx: HandlerContext) => AdminResponse;
  /** Raw handler for provider-supplied endpoints. */
  raw?: (req: IncomingMessage, res: ServerResponse) => void;
}

export const JSON_TYPE = 'application/json';
export const TEXT_TYPE = 'text/plain; charset=UTF-8';

export function text(body: string, status = 200): AdminResponse {
  return { status, body };
}

/** Proto-JSON pretty printing as Envoy emits it (protobuf's printer: one-space indent). */
export function prettyJson(v: unknown): string {
  return JSON.stringify(v, null, 1);
}

export function json(v: unknown, status = 200): AdminResponse {
  return { status, body: prettyJson(v), contentType: JSON_TYPE };
}

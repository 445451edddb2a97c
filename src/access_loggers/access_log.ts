// envoy.config.accesslog.v3.AccessLog lists -> AccessLog instances.
import { lookup, type FactoryContext } from '../common/registry';
import { ConfigError, joinPath, unknownTypeError } from '../config/errors';
import type { Plain, PlainAny } from '../config/plain';
import type { StreamInfo } from '../common/stream_info';
import type { Headers } from '../http/headers';
import { compileAccessLogFilter, type AccessLogFilter, type RuntimeLike } from './filter';
import type { AccessLog } from './types';
// The built-in loggers register themselves on import.
import './file/config';
import './stream/config';

/** An access log guarded by an AccessLogFilter. */
export class FilteredAccessLog implements AccessLog {
  constructor(readonly filter: AccessLogFilter, readonly sink: AccessLog) {}
  log(info: StreamInfo, reqHeaders?: Headers, respHeaders?: Headers, respTrailers?: Headers): void {
    const req = reqHeaders ?? info.requestHeaders;
    const resp = respHeaders ?? info.responseHeaders;
    const tr = respTrailers ?? info.responseTrailers;
    if (!this.filter.evaluate(info, req, resp, tr)) return;
    this.sink.log(info, req, resp, tr);
  }
}

/**
 * Build the loggers of an `access_log` repeated field (envoy.config.accesslog.v3.AccessLog[]),
 * e.g. HttpConnectionManager.access_log. `path` is the field's path ("...http_connection_manager.access_log").
 * Throws ConfigError naming the entry for unknown logger types or bad formats/filters.
 * `ctx` may carry `runtime` (used by comparison/runtime filters) and anything a logger needs.
 */
export function createAccessLogs(list: Plain[] | undefined, path: string, ctx?: Omit<FactoryContext, 'path'>): AccessLog[] {
  const out: AccessLog[] = [];
  (list ?? []).forEach((entry, i) => {
    const p = `${path}[${i}]`;
    out.push(createAccessLog(entry, p, ctx));
  });
  return out;
}

/** Build one logger from an envoy.config.accesslog.v3.AccessLog (plain form). */
export function createAccessLog(entry: Plain, path: string, ctx?: Omit<FactoryContext, 'path'>): AccessLog {
  if (!entry || typeof entry !== 'object') throw new ConfigError(path, 'access log entry must be an object');
  const typed = entry.typed_config as PlainAny | undefined;
  const key = typed?.['@type'] ?? entry.name;
  if (!key) throw new ConfigError(path, 'access log must set typed_config');
  const factory = lookup<AccessLog>('access_logger', key);
  const typedPath = joinPath(path, 'typed_config');
  if (!factory) throw unknownTypeError(typed ? typedPath : joinPath(path, 'name'), key);
  const sink = factory.create(typed ?? { '@type': key }, { ...ctx, path: typedPath });
  if (entry.filter === undefined || entry.filter === null) return sink;
  const runtime = ctx?.runtime as RuntimeLike | undefined;
  const filter = compileAccessLogFilter(entry.filter, joinPath(path, 'filter'),
    runtime && typeof runtime.getNumber === 'function' ? runtime : undefined);
  return new FilteredAccessLog(filter, sink);
}

/** Log one stream to every logger of a list (HCM / tcp_proxy call this at stream end). */
export function logAll(logs: readonly AccessLog[], info: StreamInfo, reqHeaders?: Headers, respHeaders?: Headers,
  respTrailers?: Headers): void {
  for (let i = 0; i < logs.length; i++) logs[i].log(info, reqHeaders, respHeaders, respTrailers);
}

// Factory for envoy.extensions.access_loggers.file.v3.FileAccessLog.
import { register, type FactoryContext } from '../../common/registry';
import { ConfigError, joinPath } from '../../config/errors';
import type { PlainAny } from '../../config/plain';
import { compileFormat, compileJsonFormat, compileSubstitutionFormat, defaultFormatter, type Formatter } from '../formatter';
import { accessLogFile, bindAccessLogStats } from '../log_file';
import type { Store } from '../../stats/stats';
import type { AccessLog } from '../types';
import { FileAccessLog } from './file_access_log';

export const FILE_ACCESS_LOG_TYPE = 'envoy.extensions.access_loggers.file.v3.FileAccessLog';

/**
 * The access_log_format oneof: log_format (SubstitutionFormatString), or the deprecated
 * format (text; '' = default), json_format (untyped: every value a string) and
 * typed_json_format (typed). None set = Envoy's default format.
 */
export function fileLogFormatter(cfg: PlainAny, path: string): Formatter {
  if (cfg.log_format !== undefined) return compileSubstitutionFormat(cfg.log_format, joinPath(path, 'log_format'));
  if (cfg.format !== undefined) {
    const f = cfg.format as string;
    return f === '' ? defaultFormatter() : compileFormat(f, joinPath(path, 'format'));
  }
  if (cfg.json_format !== undefined) {
    return compileJsonFormat(cfg.json_format, joinPath(path, 'json_format'), { typed: false });
  }
  if (cfg.typed_json_format !== undefined) {
    return compileJsonFormat(cfg.typed_json_format, joinPath(path, 'typed_json_format'), { typed: true });
  }
  return defaultFormatter();
}

export function createFileAccessLog(cfg: PlainAny, ctx: FactoryContext): AccessLog {
  const file = cfg.path as string | undefined;
  if (!file) throw new ConfigError(joinPath(ctx.path, 'path'), 'value length must be at least 1 characters');
  const formatter = fileLogFormatter(cfg, ctx.path);
  const store = ctx.stats as Store | undefined;
  if (store && typeof store.counter === 'function') bindAccessLogStats(store);
  return new FileAccessLog(accessLogFile(file, joinPath(ctx.path, 'path')), formatter);
}

register<AccessLog>('access_logger', {
  typeNames: [FILE_ACCESS_LOG_TYPE],
  names: ['envoy.access_loggers.file', 'envoy.file_access_log'],
  create: createFileAccessLog,
});

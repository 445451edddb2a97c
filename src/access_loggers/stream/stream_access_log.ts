// envoy.access_loggers.stdout / stderr: the file logger on fd 1 / fd 2, with the
// same buffering (one async write per flush, never a sync write per request).
import type { PlainAny } from '../../config/plain';
import { joinPath } from '../../config/errors';
import { compileSubstitutionFormat, defaultFormatter } from '../formatter';
import { accessLogFile } from '../log_file';
import { FileAccessLog } from '../file/file_access_log';
import type { AccessLog } from '../types';

export function createStreamAccessLog(which: '/dev/stdout' | '/dev/stderr', cfg: PlainAny, path: string): AccessLog {
  const formatter = cfg.log_format !== undefined
    ? compileSubstitutionFormat(cfg.log_format, joinPath(path, 'log_format'))
    : defaultFormatter();
  return new FileAccessLog(accessLogFile(which, path), formatter);
}

// Factories for envoy.extensions.access_loggers.stream.v3.StdoutAccessLog / StderrAccessLog.
import { register } from '../../common/registry';
import type { AccessLog } from '../types';
import { createStreamAccessLog } from './stream_access_log';

export const STDOUT_ACCESS_LOG_TYPE = 'envoy.extensions.access_loggers.stream.v3.StdoutAccessLog';
export const STDERR_ACCESS_LOG_TYPE = 'envoy.extensions.access_loggers.stream.v3.StderrAccessLog';

register<AccessLog>('access_logger', {
  typeNames: [STDOUT_ACCESS_LOG_TYPE],
  names: ['envoy.access_loggers.stdout'],
  create: (cfg, ctx) => createStreamAccessLog('/dev/stdout', cfg, ctx.path),
});

register<AccessLog>('access_logger', {
  typeNames: [STDERR_ACCESS_LOG_TYPE],
  names: ['envoy.access_loggers.stderr'],
  create: (cfg, ctx) => createStreamAccessLog('/dev/stderr', cfg, ctx.path),
});

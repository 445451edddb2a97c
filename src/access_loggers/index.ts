// Public API of the access logging subsystem.
export type { AccessLog } from './types';
export { createAccessLogs, createAccessLog, FilteredAccessLog, logAll } from './access_log';
export { compileAccessLogFilter, HeaderMatcher, type AccessLogFilter, type RuntimeLike } from './filter';
export {
  flushAllAccessLogs, reopenAccessLogs, configureAccessLogFlush, bindAccessLogStats, accessLogFile, AccessLogFile,
} from './log_file';
export {
  compileFormat, compileJsonFormat, compileSubstitutionFormat, defaultFormatter, DEFAULT_FORMAT, supportedCommands,
  TextFormatter, JsonFormatter, type Formatter, type CompileOptions, type StreamInfoExtras, type ConnectionInfoExtras,
} from './formatter';
export { FILE_ACCESS_LOG_TYPE } from './file/config';
export { STDOUT_ACCESS_LOG_TYPE, STDERR_ACCESS_LOG_TYPE } from './stream/config';

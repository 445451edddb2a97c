// envoy.access_loggers.file: format each stream with the compiled formatter and
// append the line to a shared, buffered AccessLogFile.
import type { StreamInfo } from '../../common/stream_info';
import type { Headers } from '../../http/headers';
import type { Formatter } from '../formatter';
import type { AccessLogFile } from '../log_file';
import type { AccessLog } from '../types';

export class FileAccessLog implements AccessLog {
  /** Lines dropped because formatting threw (e.g. a filter state object that fails to serialize). */
  formatErrors = 0;

  constructor(readonly file: AccessLogFile, readonly formatter: Formatter) {}

  log(info: StreamInfo, reqHeaders?: Headers, respHeaders?: Headers, respTrailers?: Headers): void {
    let line: string;
    try {
      line = this.formatter.format(info, reqHeaders, respHeaders, respTrailers);
    } catch {
      this.formatErrors++;
      return;
    }
    this.file.write(line);
  }
}

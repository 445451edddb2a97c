// The access logger instance interface shared by HCM, tcp_proxy, the router's
// upstream_log and the admin server.
import type { StreamInfo } from '../common/stream_info';
import type { Headers } from '../http/headers';

export interface AccessLog {
  /**
   * Log one finished stream (or connection). Header maps default to the ones recorded
   * on the StreamInfo; pass them when they differ (e.g. upstream logs). Never throws.
   */
  log(info: StreamInfo, reqHeaders?: Headers, respHeaders?: Headers, respTrailers?: Headers): void;
}

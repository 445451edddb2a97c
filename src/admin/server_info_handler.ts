// /ready, /server_info, /memory, /certs, /hot_restart_version
// (source/server/admin/server_info_handler.cc).
import type { AdminProviders, UrlHandler } from './types';
import { json, text } from './types';

/** remora has no hot restart; Envoy prints this when hot restart is disabled. */
export const HOT_RESTART_VERSION = 'disabled';

export function serverInfoHandlers(p: AdminProviders): UrlHandler[] {
  return [
    {
      prefix: '/ready', help: 'print server state, return 200 if LIVE, otherwise return 503', mutatesState: false,
      handler: () => {
        const state = p.serverInfo().state;
        return text(state + '\n', state === 'LIVE' ? 200 : 503);
      },
    },
    {
      prefix: '/server_info', help: 'print server version/status information', mutatesState: false,
      handler: () => {
        const s = p.serverInfo();
        // envoy.admin.v3.ServerInfo, fields in proto order.
        const info: Record<string, unknown> = {
          version: s.version,
          state: s.state,
          uptime_current_epoch: `${Math.max(0, Math.floor(s.uptimeCurrentEpochS))}s`,
          uptime_all_epochs: `${Math.max(0, Math.floor(s.uptimeAllEpochsS))}s`,
          hot_restart_version: HOT_RESTART_VERSION,
          command_line_options: s.commandLineOptions,
          node: s.node,
        };
        if (s.nativePath !== undefined) info.native_path = s.nativePath;
        return json(info);
      },
    },
    {
      prefix: '/memory', help: 'print current allocation/heap usage', mutatesState: false,
      handler: () => {
        const m = process.memoryUsage();
        // envoy.admin.v3.Memory (uint64 fields print as strings in proto3 JSON).
        return json({
          allocated: String(m.heapUsed + m.external),
          heap_size: String(m.heapTotal),
          pageheap_unmapped: '0',
          pageheap_free: String(Math.max(0, m.heapTotal - m.heapUsed)),
          total_thread_cache: '0',
          total_physical_bytes: String(m.rss),
        });
      },
    },
    {
      prefix: '/certs', help: 'print certs on machine', mutatesState: false,
      handler: () => json(p.certs ? p.certs() : { certificates: [] }),
    },
    {
      prefix: '/hot_restart_version', help: 'print the hot restart compatibility version', mutatesState: false,
      handler: () => text(HOT_RESTART_VERSION),
    },
  ];
}

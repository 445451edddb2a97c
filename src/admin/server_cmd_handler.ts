// /healthcheck/fail, /healthcheck/ok, /quitquitquit (source/server/admin/server_cmd_handler.cc).
import type { AdminProviders, UrlHandler } from './types';
import { text } from './types';

export function serverCmdHandlers(p: AdminProviders): UrlHandler[] {
  return [
    {
      prefix: '/healthcheck/fail', help: 'cause the server to fail health checks', mutatesState: true,
      handler: () => { p.healthcheckFail(); return text('OK\n'); },
    },
    {
      prefix: '/healthcheck/ok', help: 'cause the server to pass health checks', mutatesState: true,
      handler: () => { p.healthcheckOk(); return text('OK\n'); },
    },
    {
      prefix: '/quitquitquit', help: 'exit the server', mutatesState: true,
      handler: () => ({ status: 200, body: 'OK\n', after: () => p.quit() }),
    },
  ];
}

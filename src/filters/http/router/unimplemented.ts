// Route features the router filter does not implement yet (hedging, mirroring,
// internal redirects: issue 6). They change traffic, so a config that uses them is
// rejected with the field path instead of being accepted and ignored.
import { ConfigError, joinPath } from '../../../config/errors';
import type { Plain } from '../../../config/plain';

function checkAction(a: Plain | undefined, path: string): void {
  if (!a) return;
  if (a.request_mirror_policies?.length) throw new ConfigError(joinPath(path, 'request_mirror_policies'), 'request mirroring is not supported by remora yet');
  if (a.hedge_policy) throw new ConfigError(joinPath(path, 'hedge_policy'), 'request hedging is not supported by remora yet');
  if (a.internal_redirect_policy || a.internal_redirect_action === 'HANDLE_INTERNAL_REDIRECT') {
    throw new ConfigError(joinPath(path, a.internal_redirect_policy ? 'internal_redirect_policy' : 'internal_redirect_action'), 'internal redirects are not supported by remora yet');
  }
}

/** Throws ConfigError naming the first unimplemented route feature in a RouteConfiguration (plain). */
export function rejectUnimplementedRouteFeatures(rc: Plain, path: string): void {
  if (!rc || typeof rc !== 'object') return;
  if (rc.request_mirror_policies?.length) throw new ConfigError(joinPath(path, 'request_mirror_policies'), 'request mirroring is not supported by remora yet');
  const vhosts: Plain[] = Array.isArray(rc.virtual_hosts) ? rc.virtual_hosts : [];
  vhosts.forEach((v, i) => {
    const vp = `${joinPath(path, 'virtual_hosts')}[${i}]`;
    checkAction(v, vp);
    const routes: Plain[] = Array.isArray(v?.routes) ? v.routes : [];
    routes.forEach((r, j) => checkAction(r?.route, joinPath(`${vp}.routes[${j}]`, 'route')));
  });
}

// /clusters (source/server/admin/clusters_handler.cc). The formatting lives in
// src/cluster/admin_format.ts; this file only picks text or JSON.
import type { AdminProviders, UrlHandler } from './types';
import { json, text } from './types';

export function clustersHandlers(p: AdminProviders): UrlHandler[] {
  return [{
    prefix: '/clusters', help: 'upstream cluster status', mutatesState: false,
    params: [{ id: 'format', help: 'Format to use', enumChoices: ['text', 'json'] }],
    handler: (ctx) => {
      if (ctx.query.nonEmpty('format') === 'json') return json(p.clustersJson ? p.clustersJson() : {});
      return text(p.clustersText ? p.clustersText() : '');
    },
  }];
}

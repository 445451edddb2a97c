// /runtime, /runtime_modify (source/server/admin/runtime_handler.cc).
import type { AdminProviders, UrlHandler } from './types';
import { json, text } from './types';

export function runtimeHandlers(p: AdminProviders): UrlHandler[] {
  return [
    {
      prefix: '/runtime', help: 'print runtime values', mutatesState: false,
      handler: () => json(p.runtime ? p.runtime() : { entries: {}, layers: [] }),
    },
    {
      prefix: '/runtime_modify',
      help: 'Adds or modifies runtime values as passed in query parameters. To delete a previously added key, use an empty string as the value. Note that deletion only applies to overrides added via this endpoint; values loaded from disk can be modified via override but not deleted. E.g. ?key1=value1&key2=value2...',
      mutatesState: true,
      handler: (ctx) => {
        const entries = ctx.query.entries();
        if (entries.length === 0) {
          return text('usage: /runtime_modify?key1=value1&key2=value2&keyN=valueN\n'
            + '       or send the parameters as form values\n'
            + 'use an empty value to remove a previously added override', 400);
        }
        if (!p.runtimeModify) return text('runtime modification is not available\n', 503);
        const overrides: Record<string, string> = {};
        for (const [k, v] of entries) overrides[k] = v;
        try {
          p.runtimeModify(overrides);
        } catch (e) {
          return text(String((e as Error)?.message ?? e), 503);
        }
        return text('OK\n');
      },
    },
  ];
}

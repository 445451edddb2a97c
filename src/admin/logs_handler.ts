// /logging, /reopen_logs (source/server/admin/logs_handler.cc), on top of src/common/log.ts.
import { LEVELS, getLogLevel, loggerNames, setLogLevel, createLogger } from '../common/log';
import type { AdminProviders, HandlerContext, UrlHandler } from './types';
import { text } from './types';
import type { QueryParams } from './query';

const adminLog = createLogger('admin');

function isLevel(s: string): boolean {
  return (LEVELS as readonly string[]).includes(s);
}

/** LogsHandler::changeLogLevel: undefined on success, else the error message. */
function changeLogLevel(q: QueryParams): string | undefined {
  // Empty level/paths (as an HTML form sends them) mean "not given".
  if (q.get('level') === '') q.remove('level');
  if (q.get('paths') === '') q.remove('paths');
  if (q.size === 0) return undefined;
  if (q.size !== 1) return 'invalid number of parameters';

  const level = q.get('level');
  if (level !== undefined) {
    if (!isLevel(level)) return 'unknown logger level';
    setLogLevel(level);
    adminLog.info(`change all log levels: level='${level}'`);
    return undefined;
  }

  const changes = new Map<string, string>();
  const paths = q.get('paths');
  if (paths !== undefined) {
    for (const pair of paths.split(',')) {
      if (pair.trim() === '') continue;
      const colon = pair.indexOf(':');
      const name = (colon < 0 ? pair : pair.slice(0, colon)).trim();
      const lvl = colon < 0 ? '' : pair.slice(colon + 1).trim();
      if (name === '' || lvl === '') return 'empty logger name or empty logger level';
      if (!isLevel(lvl)) return 'unknown logger level';
      changes.set(name, lvl);
    }
  } else {
    const [name, lvl] = q.entries()[0];
    if (!isLevel(lvl)) return 'unknown logger level';
    changes.set(name, lvl);
  }
  const known = new Set(loggerNames());
  for (const name of changes.keys()) if (!known.has(name)) return 'unknown logger name';
  for (const [name, lvl] of changes) {
    setLogLevel(lvl, name);
    adminLog.info(`change log level: name='${name}' level='${lvl}'`);
  }
  return undefined;
}

function activeLoggers(): string {
  let out = 'active loggers:\n';
  for (const name of loggerNames()) out += `  ${name}: ${getLogLevel(name)}\n`;
  return out + '\n';
}

export function logsHandlers(p: AdminProviders): UrlHandler[] {
  const logging = (ctx: HandlerContext) => {
    const err = changeLogLevel(ctx.query);
    if (err === undefined) return text(activeLoggers());
    let out = `error: ${err}\n\n`;
    out += 'usage: /logging?<name>=<level> (change single level)\n';
    out += 'usage: /logging?paths=name1:level1,name2:level2,... (change multiple levels)\n';
    out += 'usage: /logging?level=<level> (change all levels)\n';
    out += 'levels: ' + LEVELS.map((l) => l + ' ').join('') + '\n';
    return text(out + activeLoggers(), 400);
  };
  return [
    {
      prefix: '/logging', help: 'query/change logging levels', mutatesState: true, handler: logging,
      params: [
        { id: 'paths', help: 'Change multiple logging levels by setting to <logger_name1>:<desired_level1>,<logger_name2>:<desired_level2>.' },
        { id: 'level', help: 'desired logging level', enumChoices: ['', ...LEVELS] },
      ],
    },
    {
      prefix: '/reopen_logs', help: 'reopen access logs', mutatesState: true,
      handler: () => { p.reopenLogs?.(); return text('OK\n'); },
    },
  ];
}

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AdminServer } from '../../src/admin';
import { createLogger, getLogLevel, setLogLevel, setLogSink } from '../../src/common/log';
import { fakeProviders, start, get, post } from './helpers';

let admin: AdminServer;
let port = 0;
const lines: string[] = [];

before(async () => {
  setLogSink((l) => { lines.push(l); });
  createLogger('upstream');
  createLogger('router');
  admin = await start(fakeProviders());
  port = admin.port;
});

after(async () => {
  setLogLevel('info');
  await admin.close();
});

function listing(levels: Record<string, string>): string {
  let out = 'active loggers:\n';
  for (const name of Object.keys(levels).sort()) out += `  ${name}: ${levels[name]}\n`;
  return out + '\n';
}

test('POST /logging lists the active loggers; GET is refused', async () => {
  const r = await post(port, '/logging');
  assert.equal(r.status, 200);
  assert.equal(r.body, listing({ admin: 'info', router: 'info', upstream: 'info' }));
  assert.equal((await get(port, '/logging')).status, 405);
});

test('/logging?level= changes every logger', async () => {
  const r = await post(port, '/logging?level=debug');
  assert.equal(r.status, 200);
  assert.equal(r.body, listing({ admin: 'debug', router: 'debug', upstream: 'debug' }));
  assert.equal(getLogLevel('router'), 'debug');
  assert.equal(getLogLevel(), 'debug');
});

test('/logging?<logger>=<level> changes one logger; ?paths= changes several', async () => {
  await post(port, '/logging?level=info');
  const one = await post(port, '/logging?upstream=trace');
  assert.equal(one.status, 200);
  assert.equal(one.body, listing({ admin: 'info', router: 'info', upstream: 'trace' }));
  const many = await post(port, '/logging?paths=' + encodeURIComponent('router:error,admin:warning'));
  assert.equal(many.status, 200);
  assert.equal(many.body, listing({ admin: 'warning', router: 'error', upstream: 'trace' }));
  const form = await post(port, '/logging', 'router=critical', { 'content-type': 'application/x-www-form-urlencoded' });
  assert.equal(form.body, listing({ admin: 'warning', router: 'critical', upstream: 'trace' }));
  assert.ok(lines.some((l) => l.includes("change log level: name='router' level='error'")));
});

test('/logging errors: unknown level, unknown logger, bad paths, too many params', async () => {
  await post(port, '/logging?level=info');
  const cases: Array<[string, string]> = [
    ['/logging?level=verbose', 'unknown logger level'],
    ['/logging?level=warn', 'unknown logger level'],
    ['/logging?nosuchlogger=debug', 'unknown logger name'],
    ['/logging?paths=router', 'empty logger name or empty logger level'],
    ['/logging?paths=router:loud', 'unknown logger level'],
    ['/logging?router=debug&upstream=debug', 'invalid number of parameters'],
  ];
  for (const [path, err] of cases) {
    const r = await post(port, path);
    assert.equal(r.status, 400, path);
    assert.ok(r.body.startsWith(`error: ${err}\n\n`), `${path}: ${r.body}`);
    assert.ok(r.body.includes('usage: /logging?<name>=<level> (change single level)\n'));
    assert.ok(r.body.includes('levels: trace debug info warning error critical off \n'));
    assert.ok(r.body.endsWith(listing({ admin: 'info', router: 'info', upstream: 'info' })), path);
  }
  // Empty level/paths (as sent by a form) mean "just list".
  assert.equal((await post(port, '/logging?level=&paths=')).status, 200);
});

#!/usr/bin/env node
// remora's command line: Envoy's flags (see src/server/options.ts).
import { parseArgs, UsageError, USAGE } from './server/options';
import { VERSION } from './server/version';

async function main(argv: string[]): Promise<number> {
  let opts;
  try {
    opts = parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) { process.stderr.write(`remora: ${e.message}\n${USAGE}\n`); return 1; }
    throw e;
  }
  if (opts.help) { process.stdout.write(USAGE + '\n'); return 0; }
  if (opts.version) { process.stdout.write(`remora version: ${VERSION}\n`); return 0; }
  // Loaded lazily so --help/--version stay fast.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { runServer } = require('./server/server') as typeof import('./server/server');
  return runServer(opts);
}

main(process.argv.slice(2)).then((code) => {
  if (code !== undefined && code !== null && code !== 0) process.exitCode = code;
}, (err) => {
  process.stderr.write(`remora: ${err && err.stack ? err.stack : err}\n`);
  process.exitCode = 1;
});

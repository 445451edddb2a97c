// `npm run bench`: the micro-benchmarks (tinybench) and the loopback load comparison.
//   npm run bench                 # everything
//   npm run bench -- micro        # micro-benchmarks only
//   npm run bench -- load [secs]  # load comparison only (default 10 s per target)
//   npm run bench -- xds          # xDS scale (10,000 clusters) and EDS churn benchmarks
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { benchHttp1, formatTable } from './load/http1';

function micro(): void {
  const dir = path.join(__dirname, 'micro');
  if (!fs.existsSync(dir)) return;
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.bench.js')).sort()) {
    console.log(`\n## ${f.replace(/\.js$/, '.ts')}`);
    spawnSync(process.execPath, [path.join(dir, f)], { stdio: 'inherit', timeout: 300_000 });
  }
}

async function load(seconds: number): Promise<void> {
  console.log(`\n## HTTP/1.1 load: wrk -t1 -c64 -d${seconds}s, 1 KB body; proxies on core 0, wrk+upstream on core 1`);
  console.log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}`);
  console.log(formatTable(await benchHttp1(seconds), seconds));
}

async function main(): Promise<void> {
  const [what, secs] = process.argv.slice(2);
  const seconds = parseInt(secs ?? '10', 10);
  if (!what || what === 'micro') micro();
  if (!what || what === 'load') await load(seconds);
  if (!what || what === 'xds') {
    for (const f of ['scale.js', 'churn.js']) {
      console.log(`\n## xDS: ${f.replace(/\.js$/, '.ts')}`);
      spawnSync(process.execPath, [path.join(__dirname, 'xds', f)], { stdio: 'inherit', timeout: 600_000 });
    }
  }
}
main().catch((e) => { console.error(e); process.exit(1); });

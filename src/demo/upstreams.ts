// Child process of the demo: reviews v1, v2, v3 on the ports given as arguments.
import { startReviews } from './reviews';

async function main(): Promise<void> {
  const [p1, p2, p3] = process.argv.slice(2).map((s) => parseInt(s, 10));
  await Promise.all([startReviews('v1', p1), startReviews('v2', p2), startReviews('v3', p3)]);
  process.send?.('ready');
  process.once('SIGTERM', () => process.exit(0));
  process.once('disconnect', () => process.exit(0));
}
main().catch((e) => { process.stderr.write(`reviews upstreams: ${e instanceof Error ? e.message : e}\n`); process.exit(1); });

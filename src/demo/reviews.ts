// The demo's upstreams: three versions of a bookinfo-style `reviews` service.
// Each answers with its version, like the Istio bookinfo sample.
import * as http from 'node:http';

export interface ReviewsServer { version: string; port: number; server: http.Server; }

const STARS: Record<string, string> = { v1: '', v2: 'black', v3: 'red' };

export function startReviews(version: string, port: number, host = '127.0.0.1'): Promise<ReviewsServer> {
  const server = http.createServer((req, res) => {
    const body = JSON.stringify({
      id: '0', podname: `reviews-${version}`, clustername: 'null',
      reviews: [
        { reviewer: 'Reviewer1', text: 'An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!', rating: STARS[version] ? { stars: 5, color: STARS[version] } : undefined },
        { reviewer: 'Reviewer2', text: 'Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.', rating: STARS[version] ? { stars: 4, color: STARS[version] } : undefined },
      ],
      version, path: req.url,
    }) + '\n';
    res.writeHead(200, { 'content-type': 'application/json', 'x-reviews-version': version, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.keepAliveTimeout = 65_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve({ version, port: (server.address() as { port: number }).port, server }));
  });
}

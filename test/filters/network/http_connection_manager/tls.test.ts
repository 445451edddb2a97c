// TLS in front of the HCM: ALPN picks the codec, x-forwarded-proto/:scheme are https, and
// x-forwarded-client-cert (XFCC) follows forward_client_cert_details.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as https from 'node:https';
import * as http2 from 'node:http2';
import * as crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { Harness, hcmConfig, filter } from './harness';

let dir = '';
const pem: Record<string, Buffer> = {};

function ossl(args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore', timeout: 20000 });
}

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'remora-hcm-tls-'));
  ossl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=test-ca']);
  for (const [name, san] of [['server', 'URI:spiffe://cluster.local/ns/default/sa/server,DNS:localhost'],
    ['client', 'URI:spiffe://cluster.local/ns/default/sa/client,DNS:client.local']]) {
    fs.writeFileSync(path.join(dir, `${name}.ext`), `subjectAltName=${san}\n`);
    ossl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/O=remora/CN=${name}`]);
    ossl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`]);
  }
  for (const f of ['ca.crt', 'server.key', 'server.crt', 'client.key', 'client.crt']) pem[f] = fs.readFileSync(path.join(dir, f));
});

after(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

function tlsOpts() {
  return { key: pem['server.key'], cert: pem['server.crt'], ca: pem['ca.crt'], requestCert: true, rejectUnauthorized: false, ALPNProtocols: ['h2', 'http/1.1'] };
}

function httpsGet(port: number, headers: Record<string, string> = {}, withCert = true): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port, path: '/tls', servername: 'localhost', ca: pem['ca.crt'], agent: false, headers,
      ...(withCert ? { key: pem['client.key'], cert: pem['client.crt'] } : {}), ALPNProtocols: ['http/1.1'],
    } as https.RequestOptions, (res) => { let b = ''; res.on('data', (d) => b += d); res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b })); });
    req.on('error', reject);
    req.end();
  });
}

test('TLS + ALPN: http/1.1 and h2 on one AUTO listener; https scheme and x-forwarded-proto', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Echo')]), { tls: tlsOpts() });
  try {
    const r = await httpsGet(h.port);
    const j = JSON.parse(r.body).headers;
    assert.equal(j[':scheme'], 'https');
    assert.equal(j['x-forwarded-proto'], 'https');
    const c = http2.connect(`https://localhost:${h.port}`, { ca: pem['ca.crt'], key: pem['client.key'], cert: pem['client.crt'] });
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const req = c.request({ ':path': '/h2tls' });
        let b = '';
        req.on('data', (d) => { b += d; });
        req.on('end', () => resolve(b));
        req.on('error', reject);
      });
      assert.equal(JSON.parse(body).headers[':scheme'], 'https');
    } finally { c.close(); }
    assert.equal(h.counter('downstream_cx_ssl_total'), 2);
    assert.equal(h.counter('downstream_cx_http2_total'), 1);
  } finally { await h.close(); }
});

test('XFCC: SANITIZE (default) removes a client-sent header', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Echo')]), { tls: tlsOpts() });
  try {
    const r = await httpsGet(h.port, { 'x-forwarded-client-cert': 'By=evil' });
    assert.equal(JSON.parse(r.body).headers['x-forwarded-client-cert'], undefined);
  } finally { await h.close(); }
});

test('XFCC: APPEND_FORWARD with subject/uri/dns (Istio inbound shape)', async () => {
  const h = await Harness.start(hcmConfig([filter('test.remora.Echo')], {
    forward_client_cert_details: 'APPEND_FORWARD', set_current_client_cert_details: { subject: true, uri: true, dns: true },
  }), { tls: tlsOpts() });
  try {
    const r = await httpsGet(h.port, { 'x-forwarded-client-cert': 'By=upstream-proxy' });
    const xfcc = String(JSON.parse(r.body).headers['x-forwarded-client-cert']);
    const hash = crypto.createHash('sha256').update(new crypto.X509Certificate(pem['client.crt']).raw).digest('hex');
    assert.equal(xfcc, `By=upstream-proxy,By=spiffe://cluster.local/ns/default/sa/server;Hash=${hash};Subject="CN=client,O=remora";URI=spiffe://cluster.local/ns/default/sa/client;DNS=client.local`);
    // no client certificate: the header is removed
    const r2 = await httpsGet(h.port, { 'x-forwarded-client-cert': 'By=x' }, false);
    assert.equal(JSON.parse(r2.body).headers['x-forwarded-client-cert'], undefined);
  } finally { await h.close(); }
});

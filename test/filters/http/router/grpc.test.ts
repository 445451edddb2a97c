// gRPC through the router: @grpc/grpc-js client -> proxy (HTTP/2 downstream) -> HTTP/2 upstream
// -> @grpc/grpc-js server, in all four streaming shapes, with metadata and trailers.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { Store } from '../../../../src/stats/stats';
import { responseFlagsToString } from '../../../../src/common/response_flags';
import {
  clusterManager, counter, deadPort, H2_OPTIONS, routes, staticCluster, startProxy, teardownPools, type Proxy,
} from './harness';

const id = (b: Buffer) => b;
const method = (name: string, requestStream: boolean, responseStream: boolean) => ({
  path: `/test.Echo/${name}`, requestStream, responseStream,
  requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id,
});
const SERVICE = {
  unary: method('Unary', false, false),
  serverStream: method('ServerStream', false, true),
  clientStream: method('ClientStream', true, false),
  bidi: method('Bidi', true, true),
  flaky: method('Flaky', false, false),
  slow: method('Slow', false, false),
} as unknown as grpc.ServiceDefinition;

type AnyCall = grpc.ServerUnaryCall<Buffer, Buffer> & grpc.ServerWritableStream<Buffer, Buffer> & grpc.ServerReadableStream<Buffer, Buffer> & grpc.ServerDuplexStream<Buffer, Buffer>;
let flakyCalls = 0;

const handlers = {
  unary(call: AnyCall, cb: grpc.sendUnaryData<Buffer>) {
    const md = new grpc.Metadata();
    md.set('x-trailer', 'trail-' + String(call.metadata.get('x-client')[0] ?? ''));
    const req = call.request.toString();
    if (req === 'fail') { cb({ code: grpc.status.NOT_FOUND, details: 'nothing here', metadata: md }); return; }
    call.sendMetadata(new grpc.Metadata());
    cb(null, Buffer.from('echo:' + req), md);
  },
  serverStream(call: AnyCall) {
    const n = Number(call.request.toString());
    for (let i = 0; i < n; i++) call.write(Buffer.from('msg' + i));
    const md = new grpc.Metadata();
    md.set('x-count', String(n));
    call.end(md);
  },
  clientStream(call: AnyCall, cb: grpc.sendUnaryData<Buffer>) {
    let total = 0;
    call.on('data', (d: Buffer) => { total += Number(d.toString()); });
    call.on('end', () => cb(null, Buffer.from('sum:' + total)));
  },
  bidi(call: AnyCall) {
    call.on('data', (d: Buffer) => call.write(Buffer.from('re:' + d.toString())));
    call.on('end', () => call.end());
  },
  flaky(call: AnyCall, cb: grpc.sendUnaryData<Buffer>) {
    flakyCalls++;
    if (flakyCalls % 2 === 1) { cb({ code: grpc.status.UNAVAILABLE, details: 'try again' }); return; }
    cb(null, Buffer.from('ok after ' + flakyCalls + ' ' + call.metadata.get('x-envoy-attempt-count')[0]));
  },
  slow(_call: AnyCall, cb: grpc.sendUnaryData<Buffer>) {
    setTimeout(() => cb(null, Buffer.from('slow')), 2000);
  },
};

let server: grpc.Server;
let upPort = 0;
let proxy: Proxy;
let store: Store;
let client: grpc.Client & Record<string, (...a: unknown[]) => unknown>;

before(async () => {
  server = new grpc.Server();
  server.addService(SERVICE, handlers as unknown as grpc.UntypedServiceImplementation);
  upPort = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => e ? rej(e) : res(p)));
  store = new Store();
  const cm = clusterManager(store);
  cm.addOrUpdate(staticCluster('grpc', [upPort], H2_OPTIONS));
  cm.addOrUpdate(staticCluster('dead', [await deadPort()], H2_OPTIONS));
  proxy = await startProxy({
    rc: routes([
      { match: { prefix: '/test.Echo/Flaky' }, route: { cluster: 'grpc', retry_policy: { retry_on: 'unavailable', num_retries: 2, retry_back_off: { base_interval: '0.001s' } } } },
      { match: { prefix: '/test.Echo/Slow' }, route: { cluster: 'grpc', timeout: '0s', max_stream_duration: { grpc_timeout_header_max: '0s' } } },
      { match: { prefix: '/dead/' }, route: { cluster: 'dead', prefix_rewrite: '/test.Echo/' } },
      { match: { prefix: '/' }, route: { cluster: 'grpc' } },
    ], { include_request_attempt_count: true }),
    cm, store, h2: true,
  });
  const Ctor = grpc.makeGenericClientConstructor(SERVICE, 'Echo');
  client = new Ctor(`127.0.0.1:${proxy.port}`, grpc.credentials.createInsecure()) as typeof client;
});

after(async () => {
  client.close();
  await proxy.close();
  teardownPools();
  await new Promise<void>((r) => server.tryShutdown(() => r()));
});

function unary(name: string, req: string, md?: grpc.Metadata, opts?: grpc.CallOptions) {
  return new Promise<{ err: grpc.ServiceError | null; res?: Buffer; trailers?: grpc.Metadata }>((resolve) => {
    let trailers: grpc.Metadata | undefined;
    const call = (client[name] as Function).call(client, Buffer.from(req), md ?? new grpc.Metadata(), opts ?? {},
      (err: grpc.ServiceError | null, res?: Buffer) => { setImmediate(() => resolve({ err, res, trailers })); }) as grpc.ClientUnaryCall;
    call.on('status', (st: grpc.StatusObject) => { trailers = st.metadata; });
  });
}

test('unary with metadata and trailing metadata', async () => {
  const md = new grpc.Metadata();
  md.set('x-client', 'abc');
  const r = await unary('unary', 'hi', md);
  assert.equal(r.err, null);
  assert.equal(r.res!.toString(), 'echo:hi');
  assert.equal(r.trailers!.get('x-trailer')[0], 'trail-abc');
  assert.ok(counter(store, 'cluster.grpc.upstream_rq_200') >= 1);
});

test('unary error status and message come back from trailers', async () => {
  const r = await unary('unary', 'fail');
  assert.equal(r.err?.code, grpc.status.NOT_FOUND);
  assert.equal(r.err?.details, 'nothing here');
  assert.equal(r.err?.metadata.get('x-trailer')[0], 'trail-');
});

test('server streaming', async () => {
  const call = (client.serverStream as Function).call(client, Buffer.from('5')) as grpc.ClientReadableStream<Buffer>;
  const got: string[] = [];
  let trailers: grpc.Metadata | undefined;
  call.on('data', (d: Buffer) => got.push(d.toString()));
  call.on('status', (s: grpc.StatusObject) => { trailers = s.metadata; });
  await new Promise<void>((res, rej) => { call.on('end', () => res()); call.on('error', rej); });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(got, ['msg0', 'msg1', 'msg2', 'msg3', 'msg4']);
  assert.equal(trailers?.get('x-count')[0], '5');
});

test('client streaming', async () => {
  const res = await new Promise<Buffer>((resolve, reject) => {
    const call = (client.clientStream as Function).call(client, (err: Error | null, r: Buffer) => err ? reject(err) : resolve(r)) as grpc.ClientWritableStream<Buffer>;
    for (const n of [1, 2, 3, 4]) call.write(Buffer.from(String(n)));
    call.end();
  });
  assert.equal(res.toString(), 'sum:10');
});

test('bidirectional streaming, message by message', async () => {
  const call = (client.bidi as Function).call(client) as grpc.ClientDuplexStream<Buffer, Buffer>;
  const got: string[] = [];
  const done = new Promise<void>((res, rej) => { call.on('end', () => res()); call.on('error', rej); });
  for (const w of ['a', 'b', 'c']) {
    const next = new Promise<void>((res) => call.once('data', (d: Buffer) => { got.push(d.toString()); res(); }));
    call.write(Buffer.from(w));
    await next; // each reply arrives before the next request is sent: truly interleaved
  }
  call.end();
  await done;
  assert.deepEqual(got, ['re:a', 're:b', 're:c']);
});

test('retry_on unavailable retries a trailers-only UNAVAILABLE', async () => {
  flakyCalls = 0;
  const before = counter(store, 'cluster.grpc.upstream_rq_retry');
  const r = await unary('flaky', 'x');
  assert.equal(r.err, null);
  assert.equal(r.res!.toString(), 'ok after 2 2');
  assert.equal(counter(store, 'cluster.grpc.upstream_rq_retry'), before + 1);
});

test('grpc-timeout is honoured with max_stream_duration.grpc_timeout_header_max', async () => {
  const before = counter(store, 'cluster.grpc.upstream_rq_timeout');
  // A raw HTTP/2 client so the proxy (not the client library) enforces the deadline.
  const c = http2.connect(`http://127.0.0.1:${proxy.port}`);
  const req = c.request({
    ':method': 'POST', ':path': '/test.Echo/Slow', ':authority': 'x', 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': '150m',
  });
  const frame = Buffer.alloc(5 + 4);
  frame.writeUInt32BE(4, 1);
  frame.write('slow', 5);
  req.end(frame);
  const headers = await new Promise<http2.IncomingHttpHeaders>((res) => req.on('response', res));
  req.resume();
  await new Promise((r) => req.on('close', r));
  c.close();
  assert.equal(headers[':status'], 200);
  assert.equal(headers['grpc-status'], '14');
  assert.equal(headers['grpc-message'], encodeURIComponent('upstream request timeout'));
  assert.equal(counter(store, 'cluster.grpc.upstream_rq_timeout'), before + 1);
  const si = proxy.streams[proxy.streams.length - 1].streamInfo;
  assert.equal(responseFlagsToString(si.responseFlags), 'UT');
});

test('a dead upstream maps to UNAVAILABLE', async () => {
  const c = http2.connect(`http://127.0.0.1:${proxy.port}`);
  const req = c.request({ ':method': 'POST', ':path': '/dead/Unary', ':authority': 'x', 'content-type': 'application/grpc', te: 'trailers' });
  req.end(Buffer.from([0, 0, 0, 0, 0]));
  const headers = await new Promise<http2.IncomingHttpHeaders>((res) => req.on('response', res));
  req.resume();
  await new Promise((r) => req.on('close', r));
  c.close();
  assert.equal(headers['grpc-status'], '14');
  assert.match(String(headers['grpc-message']), /connection%20failure/);
});

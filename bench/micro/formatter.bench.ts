// Access log formatter micro-benchmark: render cost per request (ns/op) of
// Envoy's default format, Istio's sidecar text format, a typed JSON format, and
// the whole logging path (format + buffer) into /dev/null.
//   node dist/bench/micro/formatter.bench.js     (or: node --import tsx bench/micro/formatter.bench.ts)
import { Bench } from 'tinybench';
import { StreamInfo } from '../../src/common/stream_info';
import {
  defaultFormatter, compileFormat, compileJsonFormat, createAccessLogs, flushAllAccessLogs,
} from '../../src/access_loggers';

const ISTIO_FORMAT = '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% '
  + '%RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%" '
  + '%BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" '
  + '"%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER% '
  + '%UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%\n';

const JSON_FORMAT = {
  start_time: '%START_TIME%',
  method: '%REQ(:METHOD)%',
  path: '%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%',
  protocol: '%PROTOCOL%',
  response_code: '%RESPONSE_CODE%',
  response_flags: '%RESPONSE_FLAGS%',
  bytes_received: '%BYTES_RECEIVED%',
  bytes_sent: '%BYTES_SENT%',
  duration: '%DURATION%',
  upstream_service_time: '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%',
  x_forwarded_for: '%REQ(X-FORWARDED-FOR)%',
  user_agent: '%REQ(USER-AGENT)%',
  request_id: '%REQ(X-REQUEST-ID)%',
  authority: '%REQ(:AUTHORITY)%',
  upstream_host: '%UPSTREAM_HOST%',
  upstream_cluster: '%UPSTREAM_CLUSTER%',
  downstream_remote_address: '%DOWNSTREAM_REMOTE_ADDRESS%',
};

function makeInfo(): StreamInfo {
  const info = new StreamInfo({
    id: 7, remoteAddress: '10.1.2.3', remotePort: 51000, directRemoteAddress: '10.1.2.3', directRemotePort: 51000,
    localAddress: '10.4.5.6', localPort: 8080, sni: 'reviews.default.svc.cluster.local', alpn: ['h2'],
    transportProtocol: 'tls', tls: true, listenerName: 'virtualInbound', filterChainName: '0.0.0.0_8080',
  });
  info.protocol = 'HTTP/1.1';
  info.responseCode = 200;
  info.bytesReceived = 0;
  info.bytesSent = 1024;
  info.endNs = 3_400_000;
  info.upstreamHost = { address: '10.4.5.6:8080' };
  info.upstreamCluster = 'inbound|8080||';
  info.upstreamLocalAddress = '127.0.0.6:44321';
  info.routeName = 'default';
  info.requestHeaders = {
    ':method': 'GET', ':path': '/reviews/0', ':authority': 'reviews:8080', ':scheme': 'http',
    'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36', 'x-forwarded-for': '10.1.2.3',
    'x-request-id': 'cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2', accept: '*/*',
  };
  info.responseHeaders = { ':status': '200', 'x-envoy-upstream-service-time': '3', 'content-type': 'application/json' };
  return info;
}

async function main(): Promise<void> {
  const info = makeInfo();
  // Vary the start time per iteration like real traffic (the per-second date cache still applies).
  let t = Date.now();
  const tick = () => { t += 1; info.startTime = t; };

  const def = defaultFormatter();
  const istio = compileFormat(ISTIO_FORMAT, 'bench');
  const json = compileJsonFormat(JSON_FORMAT, 'bench');
  const [devnull] = createAccessLogs([{ name: 'envoy.access_loggers.file', typed_config: {
    '@type': 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog', path: '/dev/null' } }], 'bench');

  let sink = 0;
  const bench = new Bench({ time: 500, warmupTime: 300 });
  bench
    .add('default format (text)', () => { tick(); sink += def.format(info).length; })
    .add('istio sidecar format (text)', () => { tick(); sink += istio.format(info).length; })
    .add('json_format, 17 keys (typed)', () => { tick(); sink += json.format(info).length; })
    .add('file logger -> /dev/null (default format, buffered)', () => { tick(); devnull.log(info); });
  await bench.run();
  await flushAllAccessLogs();

  for (const task of bench.tasks) {
    const r = task.result;
    if (r.state !== 'completed') { console.log(`${task.name}: ${r.state}`); continue; }
    const nsPerOp = r.latency.mean * 1e6;
    console.log(`${task.name.padEnd(52)} ${nsPerOp.toFixed(0).padStart(7)} ns/op  ` +
      `${Math.round(r.throughput.mean).toLocaleString('en-US').padStart(12)} ops/s  ±${r.latency.rme.toFixed(1)}%`);
  }
  console.log(`example lines:\n${def.format(info)}${json.format(info)}`);
  if (sink < 0) console.log(sink);
}

main().catch((e) => { console.error(e); process.exit(1); });

// Shared fixtures for the access logger tests: a fully populated StreamInfo.
import { StreamInfo, type ConnectionInfo } from '../../src/common/stream_info';

export function connection(over: Partial<ConnectionInfo> = {}): ConnectionInfo {
  return {
    id: 42,
    remoteAddress: '10.0.0.1',
    remotePort: 51000,
    directRemoteAddress: '10.0.0.9',
    directRemotePort: 52000,
    localAddress: '10.0.0.2',
    localPort: 8080,
    sni: '',
    alpn: [],
    transportProtocol: 'raw_buffer',
    tls: false,
    listenerName: 'listener_0',
    filterChainName: '',
    ...over,
  };
}

/** 2016-04-15T20:17:00.310Z, the example of Envoy's docs. */
export const START_MS = Date.UTC(2016, 3, 15, 20, 17, 0, 310);

export function streamInfo(conn: ConnectionInfo = connection()): StreamInfo {
  const info = new StreamInfo(conn);
  info.startTime = START_MS;
  info.protocol = 'HTTP/2';
  info.responseCode = 204;
  info.bytesReceived = 154;
  info.bytesSent = 0;
  info.endNs = 226_400_000;
  info.upstreamHost = { address: '10.0.2.1:80' };
  info.upstreamCluster = 'locations';
  info.requestHeaders = {
    ':method': 'POST',
    ':path': '/api/v1/locations',
    ':authority': 'locations',
    'x-forwarded-for': '10.0.35.28',
    'user-agent': 'nsq2http',
    'x-request-id': 'cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2',
  };
  info.responseHeaders = { ':status': '204', 'x-envoy-upstream-service-time': '100' };
  return info;
}

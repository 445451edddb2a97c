// gRPC targets for the xDS client from Envoy config: an envoy.config.core.v3.Address (the
// endpoint of the static cluster an envoy_grpc GrpcService names, e.g. Istio's xds-grpc
// pipe ./etc/istio/proxy/XDS) becomes "host:port", "[v6]:port" or "unix:path".
import type { Plain } from '../config/plain';
import { ConfigError } from '../config/errors';

/** Address (plain form) -> gRPC target. Throws ConfigError naming the field for what gRPC cannot reach. */
export function grpcTargetFromAddress(address: Plain, path = 'address'): string {
  if (!address || typeof address !== 'object') throw new ConfigError(path, 'an address is required');
  const sa = address.socket_address;
  if (sa) {
    if (sa.protocol && sa.protocol !== 'TCP') throw new ConfigError(`${path}.socket_address.protocol`, 'the xDS gRPC stream needs TCP');
    if (sa.named_port) throw new ConfigError(`${path}.socket_address.named_port`, 'named ports are not supported');
    const host = String(sa.address ?? '');
    if (!host) throw new ConfigError(`${path}.socket_address.address`, 'an address is required');
    const port = Number(sa.port_value ?? 0);
    if (!(port > 0 && port < 65536)) throw new ConfigError(`${path}.socket_address.port_value`, `invalid port ${port}`);
    return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  }
  const pipe = address.pipe;
  if (pipe) {
    const p = String(pipe.path ?? '');
    if (!p) throw new ConfigError(`${path}.pipe.path`, 'a path is required');
    if (p.startsWith('@')) throw new ConfigError(`${path}.pipe.path`, 'abstract unix sockets are not supported for the xDS stream');
    return `unix:${p}`;
  }
  throw new ConfigError(path, 'the xDS gRPC stream needs a socket_address or a pipe');
}

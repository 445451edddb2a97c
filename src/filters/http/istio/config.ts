// Istio's private HTTP filters, accepted as no-ops: they feed telemetry (istio.stats),
// peer metadata exchange, or choose an upstream ALPN for mTLS (istio.alpn: remora has no
// upstream TLS yet, so there is no ALPN to choose). None of them changes routing or the
// request/response bytes. Listed in the README.
import { register } from '../../../common/registry';
import { FilterHeadersStatus, type HttpFilterExtensionFactory, type HttpFilterFactory } from '../../../http/filter';

class PassThroughFilter {
  setDecoderFilterCallbacks(): void { /* nothing to do */ }
  setEncoderFilterCallbacks(): void { /* nothing to do */ }
  decodeHeaders(): FilterHeadersStatus { return FilterHeadersStatus.Continue; }
  encodeHeaders(): FilterHeadersStatus { return FilterHeadersStatus.Continue; }
}
const PASS = new PassThroughFilter();

export const ISTIO_NOOP_HTTP_FILTERS: ReadonlyArray<{ typeName: string; names: string[] }> = [
  { typeName: 'stats.PluginConfig', names: ['istio.stats'] },
  { typeName: 'istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig', names: ['istio.alpn'] },
  { typeName: 'io.istio.http.peer_metadata.Config', names: ['istio.peer_metadata'] },
];

for (const e of ISTIO_NOOP_HTTP_FILTERS) {
  const factory: HttpFilterExtensionFactory = {
    typeNames: [e.typeName],
    names: e.names,
    noop: true,
    create: (_cfg, ctx): HttpFilterFactory => ({ name: String(ctx.filterName ?? e.names[0]), createFilter: () => PASS }),
  };
  register('http_filter', factory);
}

// Istio's private extensions (istio.stats, istio.metadata_exchange, istio_authn, istio.alpn,
// peer_metadata) load as no-ops in the exact shapes istiod sends them (bare Any of a type the
// Envoy schema lacks, or wrapped in a TypedStruct), and traffic flows through them unchanged.
// Unknown types that are not registered no-ops are still rejected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRemora, startUpstream, get } from '../../../integration/helpers';

function bootstrap(upstreamPort: number, extraNetwork: object[] = [], extraHttp: object[] = []): object {
  return {
    static_resources: {
      listeners: [{
        name: 'inbound',
        address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
        filter_chains: [{
          filters: [
            { name: 'istio_authn', typed_config: { '@type': 'type.googleapis.com/udpa.type.v1.TypedStruct', type_url: 'type.googleapis.com/io.istio.network.authn.Config', value: {} } },
            { name: 'istio.metadata_exchange', typed_config: { '@type': 'type.googleapis.com/envoy.tcp.metadataexchange.config.MetadataExchange', protocol: 'istio-peer-exchange' } },
            ...extraNetwork,
            {
              name: 'envoy.filters.network.http_connection_manager',
              typed_config: {
                '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                stat_prefix: 'inbound_0.0.0.0_8080',
                route_config: { virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'app' } }] }] },
                http_filters: [
                  { name: 'istio.alpn', typed_config: { '@type': 'type.googleapis.com/istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig', alpn_override: [{ alpn_override: ['istio-http/1.0', 'istio'] }] } },
                  { name: 'istio.stats', typed_config: { '@type': 'type.googleapis.com/stats.PluginConfig', disable_host_header_fallback: true } },
                  { name: 'peer_metadata', typed_config: { '@type': 'type.googleapis.com/udpa.type.v1.TypedStruct', type_url: 'type.googleapis.com/io.istio.http.peer_metadata.Config', value: { upstream_discovery: [{ istio_headers: {} }] } } },
                  ...extraHttp,
                  { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } },
                ],
              },
            },
          ],
        }],
      }],
      clusters: [{
        name: 'app', type: 'STATIC', connect_timeout: '1s',
        load_assignment: { cluster_name: 'app', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: upstreamPort } } } }] }] },
      }],
    },
  };
}

test('Istio private network and HTTP filters are accepted as no-ops and traffic passes through', async () => {
  const up = await startUpstream('app');
  const r = await startRemora(bootstrap(up.port));
  try {
    const res = await get(r.port('inbound'), '/hello');
    assert.equal(res.status, 200);
    assert.equal(res.body, 'app GET /hello');
  } finally {
    await r.close();
    await up.close();
  }
});

test('an unknown private type that is not a registered no-op is still rejected, naming it', async () => {
  const up = await startUpstream('app');
  try {
    await assert.rejects(
      startRemora(bootstrap(up.port, [{ name: 'x.unknown', typed_config: { '@type': 'type.googleapis.com/acme.Mystery' } }])),
      /filter_chains\[0\]\.filters\[2\].*acme\.Mystery/,
    );
    await assert.rejects(
      startRemora(bootstrap(up.port, [], [{ name: 'x.unknown', typed_config: { '@type': 'type.googleapis.com/acme.Mystery' } }])),
      /http_filters\[3\].*acme\.Mystery/,
    );
  } finally {
    await up.close();
  }
});

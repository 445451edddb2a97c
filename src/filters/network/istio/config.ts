// Istio's private network filters, accepted as no-ops. They feed Istio telemetry and peer
// metadata but do not change how bytes are forwarded, so remora passes connections on.
// istiod never marks them is_optional; without these registrations every Istio sidecar
// listener would be rejected. Listed in the README.
import { register } from '../../../common/registry';
import { NetworkFilterStatus, type NetworkFilter, type NetworkFilterFactory } from '../../../listener/types';

const PASS: NetworkFilter = { onNewConnection: () => NetworkFilterStatus.Continue };

export const ISTIO_NOOP_NETWORK_FILTERS: ReadonlyArray<{ typeName: string; names: string[] }> = [
  { typeName: 'stats.PluginConfig', names: ['istio.stats'] },
  { typeName: 'envoy.tcp.metadataexchange.config.MetadataExchange', names: ['istio.metadata_exchange'] },
  { typeName: 'io.istio.network.authn.Config', names: ['istio_authn'] },
];

for (const e of ISTIO_NOOP_NETWORK_FILTERS) {
  register<NetworkFilterFactory>('network_filter', {
    typeNames: [e.typeName],
    names: e.names,
    noop: true,
    create: () => ({ name: e.names[0], terminal: false, createFilter: () => PASS }),
  });
}

// Envoy admin API: startAdmin() plus the provider contract the server wires up.
export { startAdmin, buildHandlers, helpText } from './server';
export type {
  AdminProviders, AdminServer, AdminExtraHandler, ServerInfoSnapshot, ServerState, ConfigDumpQuery, ListenerInfo, ListenerAddress,
} from './types';

// The xDS resource handlers (ResourceHandler implementations, src/xds/types.ts).
export { CdsHandler, edsServiceName } from './cds';
export { EdsHandler, type CachedAssignment } from './eds';
export { LdsHandler, rdsNamesOf, listenerAddresses } from './lds';
export { RouteConfigStore, RdsRouteConfigProvider } from './rds';
export { SdsHandler } from './sds';
export { XdsRejection, NamedSubscriptions } from './common';

// Envoy's response flags (StreamInfo::CoreResponseFlag), as bits, with the short
// strings %RESPONSE_FLAGS% prints. Order follows Envoy's ResponseFlagUtils table.
export const enum RF {
  FailedLocalHealthCheck = 1 << 0,          // LH
  NoHealthyUpstream = 1 << 1,               // UH
  UpstreamRequestTimeout = 1 << 2,          // UT
  LocalReset = 1 << 3,                      // LR
  UpstreamRemoteReset = 1 << 4,             // UR
  UpstreamConnectionFailure = 1 << 5,       // UF
  UpstreamConnectionTermination = 1 << 6,   // UC
  UpstreamOverflow = 1 << 7,                // UO
  NoRouteFound = 1 << 8,                    // NR
  DelayInjected = 1 << 9,                   // DI
  FaultInjected = 1 << 10,                  // FI
  RateLimited = 1 << 11,                    // RL
  UnauthorizedExternalService = 1 << 12,    // UAEX
  RateLimitServiceError = 1 << 13,          // RLSE
  DownstreamConnectionTermination = 1 << 14, // DC
  UpstreamRetryLimitExceeded = 1 << 15,     // URX
  StreamIdleTimeout = 1 << 16,              // SI
  InvalidEnvoyRequestHeaders = 1 << 17,     // IH
  DownstreamProtocolError = 1 << 18,        // DPE
  UpstreamMaxStreamDurationReached = 1 << 19, // UMSDR
  ResponseFromCacheFilter = 1 << 20,        // RFCF
  NoFilterConfigFound = 1 << 21,            // NFCF
  DurationTimeout = 1 << 22,                // DT
  UpstreamProtocolError = 1 << 23,          // UPE
  NoClusterFound = 1 << 24,                 // NC
  OverloadManager = 1 << 25,                // OM
  DnsResolutionFailed = 1 << 26,            // DF
  DropOverLoad = 1 << 27,                   // DO
  DownstreamRemoteReset = 1 << 28,          // DR
}

const TABLE: ReadonlyArray<[number, string]> = [
  [RF.FailedLocalHealthCheck, 'LH'], [RF.NoHealthyUpstream, 'UH'], [RF.UpstreamRequestTimeout, 'UT'],
  [RF.LocalReset, 'LR'], [RF.UpstreamRemoteReset, 'UR'], [RF.UpstreamConnectionFailure, 'UF'],
  [RF.UpstreamConnectionTermination, 'UC'], [RF.UpstreamOverflow, 'UO'], [RF.NoRouteFound, 'NR'],
  [RF.DelayInjected, 'DI'], [RF.FaultInjected, 'FI'], [RF.RateLimited, 'RL'],
  [RF.UnauthorizedExternalService, 'UAEX'], [RF.RateLimitServiceError, 'RLSE'],
  [RF.DownstreamConnectionTermination, 'DC'], [RF.UpstreamRetryLimitExceeded, 'URX'],
  [RF.StreamIdleTimeout, 'SI'], [RF.InvalidEnvoyRequestHeaders, 'IH'], [RF.DownstreamProtocolError, 'DPE'],
  [RF.UpstreamMaxStreamDurationReached, 'UMSDR'], [RF.ResponseFromCacheFilter, 'RFCF'],
  [RF.NoFilterConfigFound, 'NFCF'], [RF.DurationTimeout, 'DT'], [RF.UpstreamProtocolError, 'UPE'],
  [RF.NoClusterFound, 'NC'], [RF.OverloadManager, 'OM'], [RF.DnsResolutionFailed, 'DF'],
  [RF.DropOverLoad, 'DO'], [RF.DownstreamRemoteReset, 'DR'],
];

/** "-" when none, else Envoy's short names joined by ",". */
export function responseFlagsToString(flags: number): string {
  if (flags === 0) return '-';
  let out = '';
  for (let i = 0; i < TABLE.length; i++) {
    if (flags & TABLE[i][0]) out = out ? out + ',' + TABLE[i][1] : TABLE[i][1];
  }
  return out;
}

/** Long names, for json access logs / %RESPONSE_FLAGS_LONG%. */
export const RESPONSE_FLAG_SHORT: ReadonlyArray<[number, string]> = TABLE;

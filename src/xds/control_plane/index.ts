export { TestControlPlane } from './control_plane';
export type { ControlPlaneOptions, PackedAny, RequestLog, ResourceInput, ResponseLog, StreamInfo } from './control_plane';

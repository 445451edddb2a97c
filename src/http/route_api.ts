// The minimal view of a matched route that generic HTTP filters need.
// src/router/ provides the full compiled structures; the router filter uses those directly.
export interface RouteEntryLike {
  readonly name: string;
}
export interface RouteMatchLike {
  readonly route: RouteEntryLike;
}

// What every handler of the hub needs, in one object (built by server.ts).
import type { HubState } from "./state.js";
import type { HubLimits } from "./limits.js";
import type { Connection } from "./connection.js";

export interface HubContext {
  readonly state: HubState;
  readonly limits: HubLimits;
  /** False with --no-auth. */
  readonly auth: boolean;
  readonly secret: string;
  readonly connections: Map<number, Connection>;
  log(line: string): void;
}

// What every Doover 1.x element renderer is given, and what it gives back. A renderer builds its
// DOM once; `update()` runs whenever tag_values, ui_cmds or deployment_config change and reads
// the element's references again through `ctx.value()`, so values follow the device live
// without rebuilding (an input being typed into keeps its text and focus).
import type { Json } from "../../../bindings/sdk/session.js";
import type { El } from "../ui-parts.js";
import type { CommandReply } from "./replies.js";

export interface Rendered {
  readonly el: HTMLElement;
  update(): void;
}

export interface ChartHooks {
  /** Is tag_values at `path` charted? */
  charted(path: string[]): boolean;
  /** Charts (or stops charting) tag_values at `path`. */
  toggle(path: string[], label: string, units?: string, precision?: number): void;
}

export interface ElementContext {
  readonly agentId: string;
  readonly appKey: string;
  /** `value` resolved now: a reference's current value, anything else as it is. */
  value(value: Json | undefined): Json | undefined;
  /**
   * Sends the command of interaction `node` (an RPC request, or a direct write); false when the
   * hub refused it. `onReply` gets the app's reply to an RPC request, if one comes.
   */
  send(node: El, value: Json, onReply?: (reply: CommandReply) => void): Promise<boolean>;
  /** False for a read-only token. */
  canCommand(): boolean;
  readonly chart: ChartHooks;
  /** When the page last heard from the agent (ms, local clock; 0 when never). */
  agentSeenAt(): number;
  /** Renders the children of a container (each registered for updates). */
  children(node: El): Rendered[];
}

export type Renderer = (ctx: ElementContext, name: string, node: El) => Rendered;

/** The element's display name, resolved (pydoover allows a reference there too). */
export function labelOf(ctx: ElementContext, name: string, node: El): string {
  const v = ctx.value(node.displayString);
  return typeof v === "string" && v ? v : name;
}

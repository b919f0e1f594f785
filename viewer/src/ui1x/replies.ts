// Replies to the page's RPC commands. pydoover answers by updating the request message in place;
// tagwire messages are immutable, so the SDK's command handler (bindings/sdk/ui/v1) answers with a
// second message on `ui_cmds`: { type: "rpc", reply_to: <request id>, status: { code: "success" |
// "error", message }, response }. The page names its request (the message id) before sending and
// waits here for the reply with that id.
import type { Json, Message } from "../../../bindings/sdk/session.js";
import { isObject } from "../../../bindings/sdk/json.js";

export interface CommandReply {
  ok: boolean;
  /** For an error: "CODE: message" as the app's handler raised it. */
  error?: string;
  response?: Json;
}

export class CommandReplies {
  private readonly pending = new Map<string, (reply: CommandReply) => void>();

  /** Calls `done` with the reply to request `id` (once); returns a function that stops waiting. */
  expect(id: string, done: (reply: CommandReply) => void): () => void {
    this.pending.set(id, done);
    return () => this.pending.delete(id);
  }

  /** A message on ui_cmds: resolves the request it replies to, if the page is waiting for it. */
  offer(message: Message): void {
    const data = message.data;
    if (!isObject(data) || data.type !== "rpc" || typeof data.reply_to !== "string") return;
    const done = this.pending.get(data.reply_to);
    if (!done) return;
    this.pending.delete(data.reply_to);
    const status = isObject(data.status) ? data.status : {};
    if (status.code === "error") {
      const m = status.message;
      const error = isObject(m)
        ? `${typeof m.code === "string" ? m.code : "ERROR"}: ${typeof m.message === "string" ? m.message : JSON.stringify(m.message)}`
        : String(m ?? "error");
      done({ ok: false, error });
    } else if (status.code === "success") done({ ok: true, response: data.response ?? {} });
    else this.pending.set(data.reply_to, done); // acknowledged/deferred: still waiting
  }
}

// The publish box: JSON merged into the selected channel's aggregate (objects merge, scalars and
// arrays replace, null deletes), optionally logged as a message too. The payload is checked in
// the page by the wasm core (Doover's rule: an object whose keys, at every depth, match
// ^[a-zA-Z0-9_-]+$) before anything is sent; the hub's answer (version and effective diff, or its
// refusal) is shown beside the button.
import type { Core } from "../../bindings/core/index.js";
import { TagwireError } from "../../bindings/core/errors.js";
import type { Json } from "../../bindings/sdk/session.js";
import { byId } from "./dom.js";
import { compactJson } from "./format.js";
import type { Store, ChannelState } from "./store.js";

export class PublishBox {
  private target: ChannelState | undefined;
  private readonly form = byId<HTMLFormElement>("publish");
  private readonly text = byId<HTMLTextAreaElement>("publish-text");
  private readonly log = byId<HTMLInputElement>("publish-log");
  private readonly status = byId("publish-status");
  private readonly button = byId<HTMLButtonElement>("publish-button");
  private readonly label = byId("publish-target");

  constructor(
    private readonly store: Store,
    private readonly core: Core,
  ) {
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      void this.send();
    });
    this.text.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        void this.send();
      }
    });
    this.text.addEventListener("input", () => this.say("", ""));
    this.setTarget(undefined);
  }

  setTarget(ch: ChannelState | undefined): void {
    if (ch !== this.target) this.say("", "");
    this.target = ch;
    this.label.replaceChildren();
    if (ch) {
      const code = document.createElement("code");
      code.textContent = ch.key;
      this.label.append(code);
    }
    this.button.disabled = !ch;
    this.text.disabled = !ch;
  }

  private say(text: string, kind: "ok" | "error" | "") {
    this.status.textContent = text;
    this.status.className = `publish-status${kind ? " " + kind : ""}`;
  }

  private async send(): Promise<void> {
    const ch = this.target;
    const session = this.store.session;
    if (!ch || !session) return;
    let value: Json;
    try {
      value = JSON.parse(this.text.value) as Json;
    } catch (error) {
      this.say(`Not JSON: ${(error as Error).message}`, "error");
      return;
    }
    if (!this.core.validatePayload(value)) {
      this.say("A payload is a JSON object whose keys use only A-Z a-z 0-9 _ -", "error");
      return;
    }
    this.button.classList.add("busy");
    this.button.disabled = true;
    try {
      const result = await session.publish(ch.agentId, ch.channel, value, this.log.checked ? { log: true } : {});
      if (result.queued) this.say("Offline: queued, will be sent on reconnect", "ok");
      else if (compactJson(result.diff) === "{}") this.say(`No change (still v${result.version})`, "ok");
      else this.say(`Published: v${result.version}, diff ${compactJson(result.diff, 120)}`, "ok");
    } catch (error) {
      const message = error instanceof TagwireError ? `${error.message} (${error.code})` : String(error);
      this.say(`Refused: ${message}`, "error");
    } finally {
      this.button.classList.remove("busy");
      this.button.disabled = false;
    }
  }
}

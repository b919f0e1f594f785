// The message log of the selected channel, newest first, with local times. A click opens a
// message's full JSON.
import type { Message } from "../../bindings/sdk/session.js";
import { h } from "./dom.js";
import { clockMs, compactJson } from "./format.js";
import type { ChannelState } from "./store.js";

const SHOWN = 200;

export class MessageView {
  private readonly el: HTMLElement;
  private readonly countEl: HTMLElement;
  private readonly open = new Set<string>();
  private current: ChannelState | undefined;

  constructor(el: HTMLElement, countEl: HTMLElement) {
    this.el = el;
    this.countEl = countEl;
  }

  render(ch: ChannelState | undefined, state: "loading" | "ready" | "error" = "ready", error?: string): void {
    this.current = ch;
    this.countEl.textContent = ch?.messages?.length ? String(ch.messages.length) : "";
    if (!ch) {
      this.el.replaceChildren();
      return;
    }
    if (state === "loading" && !ch.messages?.length) {
      this.el.replaceChildren(h("li", { className: "empty" }, "Loading…"));
      return;
    }
    if (state === "error") {
      this.el.replaceChildren(h("li", { className: "empty" }, `Messages unavailable: ${error ?? "error"}`));
      return;
    }
    const list = ch.messages ?? [];
    if (list.length === 0) {
      this.el.replaceChildren(h("li", { className: "empty" }, "No messages on this channel."));
      return;
    }
    const items: HTMLElement[] = [];
    for (let i = list.length - 1; i >= 0 && items.length < SHOWN; i--) items.push(this.item(list[i]!, false));
    this.el.replaceChildren(...items);
  }

  /** A live message for the channel on show: added on top, highlighted. */
  add(ch: ChannelState, message: Message): void {
    if (ch !== this.current) return;
    if (this.el.querySelector(".empty")) this.el.replaceChildren();
    this.el.prepend(this.item(message, true));
    while (this.el.children.length > SHOWN) this.el.lastElementChild!.remove();
    this.countEl.textContent = String(ch.messages?.length ?? this.el.children.length);
  }

  private item(m: Message, fresh: boolean): HTMLElement {
    const isOpen = this.open.has(m.id);
    const data = h("div", { className: "data" }, isOpen ? JSON.stringify(m.data, null, 2) : compactJson(m.data));
    const li = h(
      "li",
      {
        className: `msg${isOpen ? " open" : ""}${fresh ? " new" : ""}`,
        title: `id ${m.id}\n${new Date(m.ts).toISOString()}`,
        "data-id": m.id,
      },
      h("time", { datetime: new Date(m.ts).toISOString() }, clockMs(m.ts)),
      data,
    );
    li.addEventListener("click", () => {
      if (this.open.has(m.id)) this.open.delete(m.id);
      else this.open.add(m.id);
      const nowOpen = this.open.has(m.id);
      li.classList.toggle("open", nowOpen);
      data.textContent = nowOpen ? JSON.stringify(m.data, null, 2) : compactJson(m.data);
    });
    return li;
  }
}

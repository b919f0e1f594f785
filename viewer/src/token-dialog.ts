// The token dialog (paste, switch or forget a token) and the identity shown in the top bar.
import type { HubConnection } from "./connection.js";
import { byId, toast } from "./dom.js";

export class TokenDialog {
  private readonly dialog = byId<HTMLDialogElement>("token-dialog");
  private readonly input = byId<HTMLInputElement>("token-input");
  private connection: HubConnection | undefined;

  /** Wires the dialog's buttons to `connection`. */
  attach(connection: HubConnection): void {
    this.connection = connection;
    byId("token-button").addEventListener("click", () => {
      const c = connection.claims;
      this.open(c ? `Connected as ${c.agentId} (${c.role}). Paste another token to switch.` : "Paste a token for this hub.");
    });
    byId("token-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const token = this.input.value.trim();
      if (!token) return;
      this.dialog.close();
      connection.useToken(token);
    });
    byId("token-cancel").addEventListener("click", () => this.dialog.close());
    byId("token-clear").addEventListener("click", () => {
      this.dialog.close();
      connection.useToken(undefined);
      toast("Token forgotten");
    });
  }

  open(reason: string): void {
    byId("token-reason").textContent = reason;
    this.input.value = "";
    if (!this.dialog.open) this.dialog.showModal();
    this.input.focus();
  }

  /** Who the page is connected as (hidden without a token). */
  showIdentity(): void {
    const el = byId("identity");
    const c = this.connection?.claims;
    el.hidden = !c;
    el.replaceChildren();
    if (c) {
      const b = document.createElement("b");
      b.textContent = c.agentId;
      el.append(b, ` · ${c.role}`);
    }
  }
}

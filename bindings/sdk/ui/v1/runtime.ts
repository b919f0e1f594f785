// Puts a 1.x UI on an app, as pydoover's Application setup does: the schema is published to
// `ui_state` (whole, config references resolved from the app's config), values stay in
// `tag_values`, and commands from the dashboard reach onCommand handlers or the interactions.
import type { Application } from "../../application.js";
import { registerDeclaredHandlers, UICommands } from "./commands.js";
import { type UI, publishUISchema } from "./schema.js";

export interface AttachedUI {
  readonly ui: UI;
  readonly commands: UICommands;
  /** Republishes the schema (after elements were added or removed). */
  publish(): Promise<void>;
  detach(): void;
}

export async function attachUI<C>(app: Application<C>, ui: UI, options: { config?: Record<string, unknown> } = {}): Promise<AttachedUI> {
  const config = {
    APP_KEY: app.appKey,
    APP_DISPLAY_NAME: app.appKey,
    ...((options.config ?? app.config ?? {}) as Record<string, unknown>),
  };
  await app.ui.handOver();
  const commands = new UICommands(app.agent, app.appKey);
  commands.setInteractions(ui.interactions());
  registerDeclaredHandlers(app, commands);
  commands.start();
  const publish = async () => {
    commands.setInteractions(ui.interactions());
    await publishUISchema(app.agent, app.appKey, ui.toSchema(config));
  };
  await publish();
  return { ui, commands, publish, detach: () => commands.stop() };
}

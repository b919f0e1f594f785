// pydoover 1.x's declarative UI: typed elements bound to tags and commands by reference, the UI
// declaration and its `uiApplication` schema. Import as `ui1x` from the package root.
export * from "./elements.js";
export {
  Range,
  Threshold,
  Series,
  Option,
  Colour,
  RangeView,
  Widget,
  ApplicationVariant,
  sanitizeDisplayName,
  durationMs,
} from "./misc.js";
export type { RangeOptions, SeriesOptions, ConfirmDialogOptions } from "./misc.js";
export { TagRef, tagRef, tagRef as bindTag, isLive, normalize, pythonJson, pythonStr } from "./reference.js";
export type { TagLike, UIValue } from "./reference.js";
export { UI, resolveConfig, publishUISchema, UI_STATE_CHANNEL } from "./schema.js";
export type { UISchemaOptions } from "./schema.js";
export { UICommands, CommandError, UI_CMDS_CHANNEL, handler } from "./commands.js";
export type { CommandContext, CommandHandler, CommandHandlerOptions } from "./commands.js";
export { attachUI } from "./runtime.js";
export type { AttachedUI } from "./runtime.js";

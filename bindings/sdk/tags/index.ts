// pydoover 1.x's tags module under its own names: `tags.Number({ default, logOn })` ports
// `Number(default=..., log_on=...)` line by line. The classes are NumberTag, BooleanTag and
// StringTag inside the SDK so that they never shadow JavaScript's globals in our own code.
export {
  Tag,
  NumberTag as Number,
  BooleanTag as Boolean,
  StringTag as String,
  NumberTag,
  BooleanTag,
  StringTag,
  BoundTag,
  bindTags,
  coerceTagValue,
} from "./declared.js";
export type { TagType, TagOptions, TagStore, TagDeclarations, BoundTags } from "./declared.js";
export { LogTrigger, Cross, Rise, Fall, Delta, AnyChange, Enter, Exit } from "../triggers.js";

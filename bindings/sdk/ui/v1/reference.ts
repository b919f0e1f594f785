// References a 1.x UI element carries instead of values: `$tag.app().<tag>[:type[:default]]`
// into `tag_values`, `$cmds.app().<name>[::default]` into `ui_cmds`, `$config.app().<KEY>` into
// the app's config. The browser resolves them; the app never pushes values into `ui_state`.
// Spelling follows pydoover 1.x (ui/declarative.py: UITagBinding.to_lookup, normalize_ui_value).
import { TagwireError } from "../../../core/errors.js";
import type { Json } from "../../session.js";
import { BoundTag, Tag } from "../../tags/declared.js";

// pydoover folds its many type spellings into the five the site knows.
const TYPE_ALIASES: Record<string, string> = {
  number: "number",
  integer: "number",
  float: "number",
  string: "string",
  boolean: "boolean",
  bool: "boolean",
  array: "array",
  list: "array",
  object: "object",
  dict: "object",
};

/** Python's json.dumps(value, separators=(",", ":")): compact, non-ASCII escaped as \uXXXX. */
export function pythonJson(value: Json): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Python's str() of a JSON scalar, as an f-string writes it (True, None, 1.5). */
export function pythonStr(value: Json): string {
  if (value === true) return "True";
  if (value === false) return "False";
  if (value === null) return "None";
  return String(value);
}

/** A reference to a tag in `tag_values` (pydoover's UITagBinding / tag_ref()). */
export class TagRef {
  readonly tagType: string | undefined;

  constructor(
    readonly tagName: string,
    tagType?: string,
    /** undefined: no default in the reference. */
    readonly defaultValue?: Json,
    readonly live = false,
    readonly appNested = true,
  ) {
    this.tagType = tagType ? (TYPE_ALIASES[tagType] ?? tagType) : tagType;
  }

  toLookup(): string {
    let out = "$tag." + (this.appNested ? "app()." : "") + this.tagName;
    if (this.tagType) out += `:${this.tagType}`;
    if (this.defaultValue !== undefined) {
      if (!this.tagType) out += ":string";
      out += `:${pythonJson(this.defaultValue)}`;
    }
    return out;
  }
}

/** What an element option may hold in place of a value: a declared or bound tag, or a TagRef. */
export type TagLike = Tag | BoundTag | TagRef;

/**
 * pydoover's tag_ref(tag, tag_type, default): a reference from a tag name, a declared tag (its
 * type and default; `name` must be set, or use the bound tag) or a bound tag.
 */
export function tagRef(tag: TagLike | string, tagType?: string, defaultValue?: Json): TagRef {
  if (tag instanceof TagRef) return tag;
  if (tag instanceof BoundTag) return new TagRef(tag.key, tag.declaration.tagType, tag.declaration.default, tag.declaration.live);
  if (tag instanceof Tag) {
    if (!tag.name) throw new TagwireError("TAGWIRE_ERR_ARGUMENT", "tagRef: a declared tag needs a name (or pass the bound tag)");
    return new TagRef(tag.name, tagType ?? tag.tagType, defaultValue !== undefined ? defaultValue : tag.default, tag.live);
  }
  return new TagRef(tag, tagType, defaultValue);
}

export function isTagLike(value: unknown): value is TagLike {
  return value instanceof TagRef || value instanceof BoundTag || value instanceof Tag;
}

/** pydoover's _value_is_live: the value references a tag declared `live`. */
export function isLive(value: unknown): boolean {
  return isTagLike(value) && (value instanceof TagRef ? value.live : value instanceof BoundTag ? value.declaration.live : value.live);
}

/** A value an element option may take: JSON, or a tag reference resolved by the browser. */
export type UIValue = Json | TagLike | Date | UIValue[] | { [key: string]: UIValue };

/** pydoover's normalize_ui_value: tag references become lookup strings, everything else stays. */
export function normalize(value: UIValue, field?: string): Json {
  if (isTagLike(value)) {
    if (field === "name") throw new TagwireError("TAGWIRE_ERR_ARGUMENT", "UI field 'name' cannot reference a tag");
    return tagRef(value).toLookup();
  }
  if (value instanceof Date) return value.getTime();
  if (Array.isArray(value)) return value.map((v) => normalize(v));
  if (value !== null && typeof value === "object") {
    const out: Record<string, Json> = {};
    for (const [k, v] of Object.entries(value)) out[k] = normalize(v, k);
    return out;
  }
  return value;
}

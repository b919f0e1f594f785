// Declared tags, as pydoover 1.x's `Tag`, `Number`, `Boolean`, `String` (pydoover/tags): a tag is
// declared once with a type, an optional default and optional `logOn` triggers, and read and
// written through the app. What pydoover does and this reproduces (golden cases in
// test/fixtures/pydoover-1x/tags.json, produced by running pydoover):
// - a read of a tag nothing was stored for returns the declared default (or undefined, pydoover's
//   NotSet, when none was declared);
// - reads are coerced per declared type: an "integer" tag turns an integral float into an int (a
//   no-op in JavaScript), a "boolean" tag turns any non-boolean, non-null value into its truth
//   value (Python's bool(): 0, "", [] and {} are false);
// - triggers compare against what a read returns before the write, so the declared default is the
//   "previous" value of the first write;
// - set(null) deletes the key from `tag_values` (the cloud treats a null in a diff as removal), so
//   later reads fall back on the default; see docs/DOOVER-1X.md for the one difference.
import { TagwireError } from "../../core/errors.js";
import type { Json } from "../session.js";
import { evaluateTriggers, type LogTrigger, type TriggerState } from "../triggers.js";
import { AnyChange, Cross, Delta, Enter, Exit, Fall, Rise } from "../triggers.js";

/** pydoover's tag types; number-like ones accept crossing triggers, boolean/string state ones. */
export type TagType = "number" | "integer" | "float" | "boolean" | "string" | "array" | "object";

export interface TagOptions {
  /** Returned by reads while nothing is stored; also the "previous" value of the first write. */
  default?: Json;
  /** The runtime key (default: the name the tag is declared under). */
  name?: string;
  /** pydoover's `log_on`: promote a write to a logged data point when any of these fires. */
  logOn?: LogTrigger | readonly LogTrigger[];
  /** Republished often so a watching dashboard gets fresh values (marked `live` in the UI). */
  live?: boolean;
}

const NUMERIC = new Set<string>(["number", "integer", "float"]);
const STATE = new Set<string>(["boolean", "string"]);

/** A declared tag: its type, default and triggers; bound to an app by `bindTags`. */
export class Tag {
  readonly tagType: TagType;
  readonly default: Json | undefined;
  readonly name: string | undefined;
  readonly logOn: readonly LogTrigger[];
  readonly live: boolean;

  constructor(tagType: TagType, options: TagOptions = {}) {
    this.tagType = tagType;
    this.default = options.default;
    this.name = options.name;
    this.live = options.live ?? false;
    const triggers = options.logOn === undefined ? [] : Array.isArray(options.logOn) ? [...options.logOn] : [options.logOn as LogTrigger];
    if (triggers.length > 0) {
      const allowed = NUMERIC.has(tagType) ? [Cross, Rise, Fall, Delta] : STATE.has(tagType) ? [AnyChange, Enter, Exit] : undefined;
      if (!allowed) throw new TagwireError("TAGWIRE_ERR_ARGUMENT", `logOn is not supported for tag type ${tagType}`);
      for (const t of triggers) {
        if (!allowed.some((cls) => t instanceof cls)) {
          throw new TagwireError(
            "TAGWIRE_ERR_ARGUMENT",
            `${tagType} tags accept ${allowed.map((c) => c.name).join(", ")} triggers, got ${t.constructor.name}`,
          );
        }
      }
    }
    this.logOn = triggers;
  }

  /** pydoover's Tag.to_dict(): `{ type, default?, live? }`. */
  toDict(): Record<string, Json> {
    const out: Record<string, Json> = { type: this.tagType };
    if (this.default !== undefined) out.default = this.default;
    if (this.live) out.live = true;
    return out;
  }
}

/** pydoover's `Number(default=, log_on=, live=)`. */
export class NumberTag extends Tag {
  constructor(options: TagOptions = {}) {
    super("number", options);
  }
}

/** pydoover's `Boolean(default=, log_on=, live=)`. */
export class BooleanTag extends Tag {
  constructor(options: TagOptions = {}) {
    super("boolean", options);
  }
}

/** pydoover's `String(default=, log_on=, live=)`. */
export class StringTag extends Tag {
  constructor(options: TagOptions = {}) {
    super("string", options);
  }
}

/** Python's bool() of a JSON value. */
function truth(value: Json): boolean {
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === "object" && value !== null) return Object.keys(value).length > 0;
  return Boolean(value);
}

/** pydoover's _coerce_tag_value: what a read of a tag of this type returns for a stored value. */
export function coerceTagValue(value: Json | undefined, tagType: string): Json | undefined {
  if (value === undefined || value === null) return value;
  if (tagType === "boolean" && typeof value !== "boolean") return truth(value);
  return value;
}

/** Where a bound tag reads and writes: the Application's tag cache and pending diff, synchronously. */
export interface TagStore {
  readTag(key: string): Json | undefined;
  /** Throws for a bad value. */
  writeTag(key: string, value: Json, log: boolean): void;
}

const RESOLVED: Promise<void> = Promise.resolve();

/** A declared tag bound to an app (pydoover's BoundTag). */
export class BoundTag {
  private readonly states: TriggerState[] = [];

  constructor(
    private readonly store: TagStore,
    readonly key: string,
    readonly declaration: Tag,
  ) {}

  get tagType(): TagType {
    return this.declaration.tagType;
  }

  get default(): Json | undefined {
    return this.declaration.default;
  }

  /** The stored value coerced to the declared type, or the declared default when none. */
  get(): Json | undefined {
    const stored = this.store.readTag(this.key);
    return coerceTagValue(stored === undefined ? this.declaration.default : stored, this.declaration.tagType);
  }

  get value(): Json | undefined {
    return this.get();
  }

  /** True when a read returns a value (stored, or a declared default). */
  isSet(): boolean {
    return this.get() !== undefined;
  }

  /**
   * Writes `value`; `log` (or a firing trigger) also records it as a logged data point. Every
   * trigger is evaluated against what get() returned before the write, as pydoover does.
   */
  set(value: Json, options: { log?: boolean } = {}): Promise<void> {
    try {
      this.setSync(value, options);
    } catch (error) {
      return Promise.reject(error);
    }
    return RESOLVED;
  }

  /** set() at once, without a promise (the form for a main loop); throws for a bad value. */
  setSync(value: Json, options?: { log?: boolean }): void {
    const triggers = this.declaration.logOn;
    const fired = triggers.length > 0 && evaluateTriggers(triggers, this.get(), value, this.states);
    this.store.writeTag(this.key, value, (options?.log ?? false) || fired);
  }

  /** Removes the value (pydoover's delete(): set(None)); reads fall back on the default. */
  delete(options: { log?: boolean } = {}): Promise<void> {
    return this.set(null, options);
  }

  /** Back to the declared default (pydoover's clear()). */
  clear(): Promise<void> {
    return this.set(this.declaration.default ?? null);
  }

  async increment(amount = 1, options: { log?: boolean } = {}): Promise<number> {
    const current = this.numeric("increment");
    await this.set(current + amount, options);
    return current + amount;
  }

  async decrement(amount = 1, options: { log?: boolean } = {}): Promise<number> {
    const current = this.numeric("decrement");
    await this.set(current - amount, options);
    return current - amount;
  }

  private numeric(operation: string): number {
    if (!NUMERIC.has(this.declaration.tagType)) {
      throw new TagwireError("TAGWIRE_ERR_ARGUMENT", `cannot ${operation} non-numeric tag ${this.key} of type ${this.declaration.tagType}`);
    }
    const current = this.get();
    if (typeof current !== "number") throw new TagwireError("TAGWIRE_ERR_ARGUMENT", `cannot ${operation} unset tag ${this.key}`);
    return current;
  }
}

export type TagDeclarations = Record<string, Tag>;
export type BoundTags<D extends TagDeclarations> = { readonly [K in keyof D]: BoundTag };

/** Binds every declaration to `store`, keyed by its `name` or the property it is declared under. */
export function bindTags<D extends TagDeclarations>(declarations: D, store: TagStore): BoundTags<D> {
  const out: Record<string, BoundTag> = {};
  for (const [attr, tag] of Object.entries(declarations)) out[attr] = new BoundTag(store, tag.name ?? attr, tag);
  return Object.freeze(out) as BoundTags<D>;
}

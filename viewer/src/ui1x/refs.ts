// References in a Doover 1.x UI schema, and their values. pydoover 1.x elements carry no values:
// their fields hold strings that point into channels, which the page resolves live.
//
//   $tag.app().<path>[:<type>[:<JSON default>]]   tag_values[<app key>].<path>
//   $tag.<path>[:<type>[:<JSON default>]]         tag_values.<path> (a tag not nested in the app)
//   $cmds.app().<name>[::<default>]               ui_cmds[<app key>].<name>; the default is
//                                                 Python's str() of it (True, None, 250, north)
//   $config.app().<KEY>[:<type>[:<default>]]      deployment_config.applications[<app key>].<KEY>
//
// <path> is dot separated; <type> is number, string, boolean, array or object (pydoover maps its
// own aliases onto these). A tag or command that is absent resolves to its default, and a value
// of the wrong kind is coerced as pydoover's config resolver does (boolean from "true"/"1"/"yes",
// number from a numeric string). This module is pure: the page and Node tests share it.
import { getPath } from "../../../bindings/sdk/json.js";
import type { Json } from "../../../bindings/sdk/session.js";

export type RefSource = "tag" | "cmds" | "config";

export interface Ref {
  readonly source: RefSource;
  /** True for `app()` references (looked up under the app key). */
  readonly app: boolean;
  readonly path: readonly string[];
  readonly type: string | undefined;
  /** Undefined when the reference has no default. */
  readonly fallback: Json | undefined;
}

/** What references are resolved against: the three channels' aggregates and the app key. */
export interface RefScope {
  readonly appKey: string;
  readonly tags: Json | undefined;
  readonly cmds: Json | undefined;
  readonly config: Json | undefined;
}

const PREFIXES: ReadonlyArray<[string, RefSource, boolean]> = [
  ["$tag.app().", "tag", true],
  ["$cmds.app().", "cmds", true],
  ["$config.app().", "config", true],
  ["$tag.", "tag", false],
];

/** True for a string that is a reference (what pydoover writes in place of a value). */
export function isRef(value: unknown): value is string {
  return typeof value === "string" && value.startsWith("$") && parseRef(value) !== undefined;
}

/** The reference in `text`, or undefined when it is not one. */
export function parseRef(text: string): Ref | undefined {
  for (const [prefix, source, app] of PREFIXES) {
    if (!text.startsWith(prefix)) continue;
    const rest = text.slice(prefix.length);
    const first = rest.indexOf(":");
    const name = first < 0 ? rest : rest.slice(0, first);
    if (!name) return undefined;
    let type: string | undefined;
    let fallback: Json | undefined;
    if (first >= 0) {
      const tail = rest.slice(first + 1);
      const second = tail.indexOf(":");
      type = (second < 0 ? tail : tail.slice(0, second)) || undefined;
      if (second >= 0) fallback = source === "cmds" ? pythonLiteral(tail.slice(second + 1)) : jsonLiteral(tail.slice(second + 1));
    }
    return { source, app, path: name.split("."), type, fallback };
  }
  return undefined;
}

/** A JSON default as pydoover writes it (json.dumps); an unparsable one is kept as text. */
function jsonLiteral(text: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch {
    return text;
  }
}

/** A default written with Python's str(): True/False/None, numbers, else the text itself. */
function pythonLiteral(text: string): Json {
  if (text === "True") return true;
  if (text === "False") return false;
  if (text === "None") return null;
  if (text.trim() !== "" && Number.isFinite(Number(text))) return Number(text);
  return text;
}

/** The value a reference points at now (its default when absent), coerced to its type. */
export function resolveRef(ref: Ref, scope: RefScope): Json | undefined {
  let root: Json | undefined;
  if (ref.source === "tag") root = ref.app ? getPath(scope.tags, [scope.appKey]) : scope.tags;
  else if (ref.source === "cmds") root = getPath(scope.cmds, [scope.appKey]);
  else root = getPath(scope.config, ["applications", scope.appKey]);
  let value = getPath(root, ref.path);
  if (value === undefined && ref.source === "config" && ref.path.length === 1 && ref.path[0] === "APP_KEY") value = scope.appKey;
  if (value === undefined || value === null) value = ref.fallback;
  return value === undefined ? undefined : coerce(value, ref.type);
}

/** `value` itself, or what it references when it is a reference string. */
export function resolveValue(value: Json | undefined, scope: RefScope): Json | undefined {
  if (typeof value !== "string" || !value.startsWith("$")) return value;
  const ref = parseRef(value);
  return ref ? resolveRef(ref, scope) : value;
}

function coerce(value: Json, type: string | undefined): Json {
  switch (type) {
    case "boolean":
    case "bool":
      if (typeof value === "boolean" || value === null) return value;
      return ["true", "1", "yes"].includes(String(value).toLowerCase());
    case "number":
    case "integer":
    case "float":
      if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) return Number(value);
      return value;
    case "string":
      return typeof value === "string" || value === null ? value : typeof value === "object" ? JSON.stringify(value) : String(value);
    default:
      return value;
  }
}

/** The channel and path a tag reference reads (for charting it), or undefined. */
export function tagPath(value: Json | undefined, appKey: string): string[] | undefined {
  if (typeof value !== "string") return undefined;
  const ref = parseRef(value);
  if (ref?.source !== "tag") return undefined;
  return ref.app ? [appKey, ...ref.path] : [...ref.path];
}

// google.protobuf.Struct <-> JSON values, in the object shape @grpc/proto-loader uses
// (`oneofs: true`: each Value names its `kind`). Struct numbers are doubles, which is why Doover
// added the `data_json` fields; both are read and written here.
type Value =
  | { kind?: "nullValue"; nullValue: number | string }
  | { kind?: "numberValue"; numberValue: number }
  | { kind?: "stringValue"; stringValue: string }
  | { kind?: "boolValue"; boolValue: boolean }
  | { kind?: "structValue"; structValue: Struct }
  | { kind?: "listValue"; listValue: { values?: Value[] } };

export interface Struct {
  fields?: Record<string, Value>;
}

const MAX_DEPTH = 64;

function toValue(v: unknown, depth: number): Value {
  if (depth > MAX_DEPTH) throw new RangeError("value nested too deep for a Struct");
  if (v === null || v === undefined) return { nullValue: 0 };
  if (typeof v === "number") return { numberValue: v };
  if (typeof v === "bigint") return { numberValue: Number(v) };
  if (typeof v === "string") return { stringValue: v };
  if (typeof v === "boolean") return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map((x) => toValue(x, depth + 1)) } };
  if (v instanceof Uint8Array) return { stringValue: Buffer.from(v).toString("base64") };
  return { structValue: toStructAt(v as Record<string, unknown>, depth + 1) };
}

function toStructAt(obj: Record<string, unknown>, depth: number): Struct {
  const fields: Record<string, Value> = {};
  for (const [k, v] of Object.entries(obj)) fields[k] = toValue(v, depth);
  return { fields };
}

export function toStruct(obj: Record<string, unknown>): Struct {
  return toStructAt(obj, 0);
}

function fromValue(v: Value | undefined, depth: number): unknown {
  if (!v || depth > MAX_DEPTH) return null;
  const kind = v.kind ?? (Object.keys(v).find((k) => k.endsWith("Value")) as Value["kind"]);
  switch (kind) {
    case "numberValue":
      return (v as { numberValue: number }).numberValue;
    case "stringValue":
      return (v as { stringValue: string }).stringValue;
    case "boolValue":
      return (v as { boolValue: boolean }).boolValue;
    case "structValue":
      return fromStructAt((v as { structValue: Struct }).structValue, depth + 1);
    case "listValue":
      return ((v as { listValue: { values?: Value[] } }).listValue.values ?? []).map((x) => fromValue(x, depth + 1));
    default:
      return null;
  }
}

function fromStructAt(s: Struct | undefined | null, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!s?.fields) return out;
  for (const [k, v] of Object.entries(s.fields)) out[k] = fromValue(v, depth);
  return out;
}

export function fromStruct(s: Struct | undefined | null): Record<string, unknown> {
  return fromStructAt(s, 0);
}

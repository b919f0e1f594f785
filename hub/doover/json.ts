// JSON out with exact 64-bit integers. Doover's snowflakes need all 64 bits; JSON.stringify
// cannot write a bigint, and a double would round it. A bigint is written as a plain JSON number
// (what pydoover's json/orjson read back exactly).
const MARK = "\u0000tw-bigint:";
const MARKED = /"\\u0000tw-bigint:(\d+)"/g;

export function stringifyExact(value: unknown): string {
  const text = JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? MARK + v.toString() : v));
  return text.includes("tw-bigint:") ? text.replace(MARKED, "$1") : text;
}

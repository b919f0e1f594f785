// Formatting of times, numbers and JSON for display.

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** 14:03:27.412 (local time). */
export function clockMs(ts: number): string {
  const d = new Date(ts);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** 14:03:27 (local time). */
export function clock(ts: number): string {
  const d = new Date(ts);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "just now", "12 s ago", "3 min ago", else the clock time. */
export function ago(ts: number, now = Date.now()): string {
  const s = Math.round((now - ts) / 1000);
  if (s < 2) return "just now";
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  return new Date(ts).toLocaleString();
}

/** A number with `precision` decimals when given, else up to 4 significant decimals. */
export function num(value: number, precision?: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (precision !== undefined && precision >= 0 && precision <= 20) return value.toFixed(precision);
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  return value.toFixed(abs >= 100 ? 1 : abs >= 1 ? 2 : 4).replace(/\.?0+$/, "");
}

/** One-line JSON, cut to `max` characters. */
export function compactJson(value: unknown, max = 400): string {
  const text = JSON.stringify(value) ?? "undefined";
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

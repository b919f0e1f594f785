// A live line chart on a canvas, no library: up to four series, each a numeric field of some
// channel (a tag, a UI variable, any number in an aggregate or logged message), over a sliding
// time window. The legend's min / max / mean come from a rolling window in the wasm core (the
// same RollingStats the SDK uses), so the page runs the core, not a JavaScript copy of it.
import type { Core, RollingWindow } from "../../bindings/core/index.js";
import type { Json, Message } from "../../bindings/sdk/session.js";
import { h, setChildren } from "./dom.js";
import { clock, num } from "./format.js";
import { valueAt, type ChannelState } from "./store.js";

export interface SeriesSource {
  agentId: string;
  channel: string;
  path: string[];
  label: string;
  units?: string;
  precision?: number;
}

interface Series extends SeriesSource {
  key: string;
  colour: string;
  ts: number[];
  values: number[];
  stats: RollingWindow;
  lastVersion: number;
}

const PALETTE = ["#4f46e5", "#0ea5e9", "#f59e0b", "#10b981"];
const MAX_SERIES = PALETTE.length;
/** Points kept per series: the widest window at one sample per 100 ms, and then some. */
const MAX_POINTS = 12_000;
const KEEP_MS = 15 * 60_000;

export function seriesKey(agentId: string, channel: string, path: readonly string[]): string {
  return `${agentId}/${channel}#${path.join("/")}`;
}

/** "Nice" tick step (1, 2, 2.5 or 5 times a power of ten) giving about `count` ticks. */
function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

const TIME_STEPS = [1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000];

export class LiveChart {
  readonly series = new Map<string, Series>();
  private windowMs = 60_000;
  private frame = 0;
  private hoverX: number | undefined;
  private readonly canvas: HTMLCanvasElement;
  private readonly legend: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly core: Core;
  /** Called when the set of series changes (the views mark charted fields). */
  onChange: () => void = () => {};

  constructor(canvas: HTMLCanvasElement, legend: HTMLElement, empty: HTMLElement, core: Core) {
    this.canvas = canvas;
    this.legend = legend;
    this.empty = empty;
    this.core = core;
    new ResizeObserver(() => this.schedule()).observe(canvas);
    canvas.addEventListener("mousemove", (e) => {
      this.hoverX = e.offsetX;
      this.schedule();
    });
    canvas.addEventListener("mouseleave", () => {
      this.hoverX = undefined;
      this.schedule();
    });
    // The time axis moves even when no sample arrives.
    setInterval(() => {
      if (this.series.size > 0) {
        this.schedule();
        this.renderLegend();
      }
    }, 1000);
    this.renderLegend();
  }

  has(key: string): boolean {
    return this.series.has(key);
  }

  /** Adds a series (or removes it if charted already); false when the chart is full. */
  toggle(source: SeriesSource, history?: () => Promise<Message[]>): boolean {
    const key = seriesKey(source.agentId, source.channel, source.path);
    if (this.series.has(key)) {
      this.remove(key);
      return true;
    }
    if (this.series.size >= MAX_SERIES) return false;
    const used = new Set([...this.series.values()].map((s) => s.colour));
    const colour = PALETTE.find((c) => !used.has(c)) ?? PALETTE[0]!;
    const s: Series = {
      ...source,
      key,
      colour,
      ts: [],
      values: [],
      stats: this.core.createRollingStats({ windowMs: this.windowMs }),
      lastVersion: -1,
    };
    this.series.set(key, s);
    if (history) {
      // Logged messages give the series a past; kept only where they hold the same field.
      history().then(
        (messages) => {
          if (!this.series.has(key)) return;
          const points: Array<[number, number]> = [];
          for (const m of messages) {
            const v = valueAt(m.data, s.path);
            if (typeof v === "number" && Number.isFinite(v)) points.push([m.ts, v]);
          }
          if (points.length === 0) return;
          const first = s.ts.length ? s.ts[0]! : Infinity;
          const older = points.filter(([t]) => t < first).sort((a, b) => a[0] - b[0]);
          s.ts.unshift(...older.map((p) => p[0]));
          s.values.unshift(...older.map((p) => p[1]));
          this.restat(s);
          this.schedule();
          this.renderLegend();
        },
        () => {},
      );
    }
    this.renderLegend();
    this.schedule();
    this.onChange();
    return true;
  }

  remove(key: string): void {
    const s = this.series.get(key);
    if (!s) return;
    s.stats.dispose();
    this.series.delete(key);
    this.renderLegend();
    this.schedule();
    this.onChange();
  }

  setWindow(ms: number): void {
    this.windowMs = ms;
    for (const s of this.series.values()) {
      s.stats.dispose();
      s.stats = this.core.createRollingStats({ windowMs: ms });
      this.restat(s);
    }
    this.renderLegend();
    this.schedule();
  }

  /** A channel changed: samples every series that reads from it. */
  sample(ch: ChannelState, now = Date.now()): void {
    for (const s of this.series.values()) {
      if (s.agentId !== ch.agentId || s.channel !== ch.channel || s.lastVersion === ch.version) continue;
      s.lastVersion = ch.version;
      const v = valueAt(ch.aggregate, s.path);
      if (typeof v !== "number" || !Number.isFinite(v)) continue;
      this.push(s, now, v);
    }
  }

  /** The current value of a series' field in `aggregate` (for the first point, before any change). */
  prime(key: string, aggregate: Json, version: number, now = Date.now()): void {
    const s = this.series.get(key);
    if (!s) return;
    s.lastVersion = version;
    const v = valueAt(aggregate, s.path);
    if (typeof v === "number" && Number.isFinite(v)) this.push(s, now, v);
  }

  private push(s: Series, t: number, v: number): void {
    s.ts.push(t);
    s.values.push(v);
    s.stats.add(v, t);
    // Drop what no window shows any more (amortised: in chunks).
    if (s.ts.length > MAX_POINTS || t - s.ts[0]! > KEEP_MS + 60_000) {
      let cut = 0;
      while (cut < s.ts.length && (s.ts.length - cut > MAX_POINTS || t - s.ts[cut]! > KEEP_MS)) cut++;
      s.ts.splice(0, cut);
      s.values.splice(0, cut);
    }
    this.renderLegend();
    this.schedule();
  }

  private restat(s: Series): void {
    s.stats.reset();
    const from = Date.now() - this.windowMs;
    let i = 0;
    while (i < s.ts.length && s.ts[i]! < from) i++;
    if (i < s.ts.length) s.stats.addMany(s.values.slice(i), s.ts.slice(i));
  }

  private renderLegend(): void {
    this.empty.hidden = this.series.size > 0;
    const now = Date.now();
    const items = [...this.series.values()].map((s) => {
      s.stats.expire(now);
      const last = s.values.length ? s.values[s.values.length - 1]! : undefined;
      const unit = s.units ? ` ${s.units}` : "";
      const stat =
        s.stats.count > 0
          ? `min ${num(s.stats.min, s.precision)} · max ${num(s.stats.max, s.precision)} · mean ${num(s.stats.mean, s.precision === undefined ? undefined : s.precision + 1)}`
          : "no samples yet";
      return h(
        "span",
        { className: "legend-item", "data-series": s.key, title: `${s.agentId}/${s.channel} → ${s.path.join(".")}` },
        h("span", { className: "swatch", style: `background:${s.colour}` }),
        h("span", null, s.label),
        h("span", { className: "now" }, last === undefined ? "–" : `${num(last, s.precision)}${unit}`),
        h("span", { className: "stat" }, stat),
        h(
          "button",
          { type: "button", title: "Remove from chart", "aria-label": `Remove ${s.label} from chart`, onclick: () => this.remove(s.key) },
          "×",
        ),
      );
    });
    setChildren(this.legend, items);
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  private draw(): void {
    const canvas = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (width === 0 || height === 0) return;
    if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
      canvas.width = Math.round(width * dpr);
      canvas.height = Math.round(height * dpr);
    }
    const ctx = canvas.getContext("2d")!;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const style = getComputedStyle(document.documentElement);
    const grid = style.getPropertyValue("--border").trim() || "#e3e6eb";
    const muted = style.getPropertyValue("--muted").trim() || "#6a7382";
    const text = style.getPropertyValue("--text").trim() || "#1c2430";
    const panel = style.getPropertyValue("--panel").trim() || "#fff";

    const now = Date.now();
    const t1 = now;
    const t0 = now - this.windowMs;
    let lo = Infinity;
    let hi = -Infinity;
    for (const s of this.series.values()) {
      for (let i = 0; i < s.ts.length; i++) {
        if (s.ts[i]! < t0 - 2000) continue;
        const v = s.values[i]!;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
    if (lo === Infinity) {
      lo = 0;
      hi = 1;
    }
    if (hi - lo < 1e-9) {
      const pad = Math.abs(hi) > 1 ? Math.abs(hi) * 0.05 : 0.5;
      lo -= pad;
      hi += pad;
    }
    const span = hi - lo;
    lo -= span * 0.08;
    hi += span * 0.08;
    const step = niceStep(hi - lo, 5);
    lo = Math.floor(lo / step) * step;
    hi = Math.ceil(hi / step) * step;

    ctx.font = `11px ${style.getPropertyValue("--sans") || "system-ui"}`;
    const digits = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
    const labels: string[] = [];
    for (let v = lo; v <= hi + step / 2; v += step) labels.push(v.toFixed(Math.min(digits, 6)));
    const left = Math.ceil(Math.max(...labels.map((l) => ctx.measureText(l).width))) + 14;
    const right = 14;
    const top = 10;
    const bottom = 24;
    const pw = width - left - right;
    const ph = height - top - bottom;
    const x = (t: number) => left + ((t - t0) / (t1 - t0)) * pw;
    const y = (v: number) => top + (1 - (v - lo) / (hi - lo)) * ph;

    // Grid and axes.
    ctx.strokeStyle = grid;
    ctx.fillStyle = muted;
    ctx.lineWidth = 1;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    labels.forEach((label, i) => {
      const yy = Math.round(y(lo + i * step)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(left, yy);
      ctx.lineTo(width - right, yy);
      ctx.stroke();
      ctx.fillText(label, left - 8, yy);
    });
    const tStep = TIME_STEPS.find((s) => this.windowMs / s <= 7) ?? 600_000;
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (let t = Math.ceil(t0 / tStep) * tStep; t <= t1; t += tStep) {
      const xx = Math.round(x(t)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(xx, top);
      ctx.lineTo(xx, top + ph);
      ctx.stroke();
      ctx.fillText(clock(t), xx, top + ph + 6);
    }

    // Series: a line, a faint area under it, and a dot on the newest sample.
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top - 4, pw + 8, ph + 8);
    ctx.clip();
    for (const s of this.series.values()) {
      let start = 0;
      while (start < s.ts.length - 1 && s.ts[start + 1]! < t0) start++;
      if (start >= s.ts.length) continue;
      ctx.beginPath();
      for (let i = start; i < s.ts.length; i++) {
        const px = x(s.ts[i]!);
        const py = y(s.values[i]!);
        if (i === start) ctx.moveTo(px, py);
        else ctx.lineTo(px, py);
      }
      ctx.strokeStyle = s.colour;
      ctx.lineWidth = 2;
      ctx.lineJoin = "round";
      ctx.stroke();
      const lastX = x(s.ts[s.ts.length - 1]!);
      ctx.lineTo(lastX, top + ph);
      ctx.lineTo(x(s.ts[start]!), top + ph);
      ctx.closePath();
      ctx.globalAlpha = 0.07;
      ctx.fillStyle = s.colour;
      ctx.fill();
      ctx.globalAlpha = 1;
      const lastY = y(s.values[s.values.length - 1]!);
      ctx.beginPath();
      ctx.arc(lastX, lastY, 3.5, 0, Math.PI * 2);
      ctx.fillStyle = s.colour;
      ctx.fill();
      ctx.strokeStyle = panel;
      ctx.lineWidth = 1.5;
      ctx.stroke();
    }
    ctx.restore();

    // Hover: a vertical rule and the nearest sample of each series.
    if (this.hoverX !== undefined && this.hoverX >= left && this.hoverX <= left + pw && this.series.size > 0) {
      const t = t0 + ((this.hoverX - left) / pw) * (t1 - t0);
      ctx.strokeStyle = muted;
      ctx.setLineDash([3, 3]);
      ctx.beginPath();
      ctx.moveTo(Math.round(this.hoverX) + 0.5, top);
      ctx.lineTo(Math.round(this.hoverX) + 0.5, top + ph);
      ctx.stroke();
      ctx.setLineDash([]);
      const rows: Array<[string, string]> = [];
      for (const s of this.series.values()) {
        const i = nearest(s.ts, t);
        if (i < 0 || Math.abs(s.ts[i]! - t) > this.windowMs / 20) continue;
        ctx.beginPath();
        ctx.arc(x(s.ts[i]!), y(s.values[i]!), 4, 0, Math.PI * 2);
        ctx.fillStyle = s.colour;
        ctx.fill();
        rows.push([s.colour, `${s.label}: ${num(s.values[i]!, s.precision)}${s.units ? " " + s.units : ""}`]);
      }
      if (rows.length) {
        const title = clock(t);
        const w = Math.max(ctx.measureText(title).width, ...rows.map((r) => ctx.measureText(r[1]).width)) + 30;
        const bh = 20 + rows.length * 16;
        let bx = this.hoverX + 12;
        if (bx + w > width - 4) bx = this.hoverX - 12 - w;
        ctx.fillStyle = panel;
        ctx.strokeStyle = grid;
        ctx.beginPath();
        ctx.roundRect(bx, top + 6, w, bh, 6);
        ctx.fill();
        ctx.stroke();
        ctx.textAlign = "left";
        ctx.textBaseline = "top";
        ctx.fillStyle = muted;
        ctx.fillText(title, bx + 10, top + 11);
        rows.forEach(([colour, label], i) => {
          ctx.fillStyle = colour;
          ctx.fillRect(bx + 10, top + 30 + i * 16, 8, 8);
          ctx.fillStyle = text;
          ctx.fillText(label, bx + 22, top + 27 + i * 16);
        });
      }
    }
  }
}

/** Index of the sample closest in time to `t` (-1 when there is none). */
function nearest(ts: number[], t: number): number {
  if (ts.length === 0) return -1;
  let lo = 0;
  let hi = ts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ts[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0 && Math.abs(ts[lo - 1]! - t) < Math.abs(ts[lo]! - t)) return lo - 1;
  return lo;
}

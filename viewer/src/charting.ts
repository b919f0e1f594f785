// What the page charts: series toggled from the tree, the apps and their plots, with up to 15
// minutes of history loaded for each; and, the first time an app UI is seen, its first numeric
// variable, so the chart is not empty.
import { type LiveChart, seriesKey, type SeriesSource } from "./chart.js";
import { byId, toast } from "./dom.js";
import type { ChartHooks } from "./ui1x/context.js";
import type { Store } from "./store.js";

const HISTORY_MS = 15 * 60_000;

export class Charting {
  private autoCharted = false;

  constructor(
    readonly chart: LiveChart,
    private readonly store: Store,
  ) {
    const windows = byId("chart-window");
    for (const button of windows.querySelectorAll<HTMLButtonElement>("button")) {
      button.addEventListener("click", () => {
        for (const b of windows.querySelectorAll("button")) b.classList.toggle("active", b === button);
        chart.setWindow(Number(button.dataset.ms));
      });
    }
  }

  charted(agentId: string, channel: string, path: readonly string[]): boolean {
    return this.chart.has(seriesKey(agentId, channel, path));
  }

  /** Adds the series, or removes it when already charted. */
  toggle(source: SeriesSource): void {
    const ch = this.store.channel(source.agentId, source.channel);
    const session = this.store.session;
    const history =
      ch && session
        ? () => session.getMessages(source.agentId, source.channel, { after: Date.now() - HISTORY_MS, limit: 1000 })
        : undefined;
    if (!this.chart.toggle(source, history)) {
      toast("The chart shows four series at most: remove one first", "error");
      return;
    }
    if (ch) this.chart.prime(seriesKey(source.agentId, source.channel, source.path), ch.aggregate, ch.version);
  }

  /** Chart hooks for tag_values of one agent (what 1.x apps chart). */
  tagHooks(agentId: string): ChartHooks {
    return {
      charted: (path) => this.charted(agentId, "tag_values", path),
      toggle: (path, label, units, precision) => {
        const source: SeriesSource = { agentId, channel: "tag_values", path, label };
        if (units !== undefined) source.units = units;
        if (precision !== undefined) source.precision = precision;
        this.toggle(source);
      },
    };
  }

  /** Charts `first()` once, if nothing is charted yet. */
  autoStart(first: () => SeriesSource | undefined): void {
    if (this.autoCharted || this.chart.series.size > 0) return;
    const source = first();
    if (!source) return;
    this.autoCharted = true;
    this.toggle(source);
  }
}

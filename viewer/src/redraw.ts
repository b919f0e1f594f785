// One redraw per animation frame: views mark themselves stale as events arrive, and each stale
// view is drawn once in the next frame, in the order the views were added (several events in one
// frame cost one redraw). Views are objects, not names: a typo is a type error.
export interface View {
  render(): void;
}

export class Redraw {
  private readonly order: View[] = [];
  private readonly stale = new Set<View>();
  private frame = 0;

  /** Registers `view` (draw order is registration order) and returns it. */
  add<T extends View>(view: T): T {
    this.order.push(view);
    return view;
  }

  /** Draws these views in the next frame. */
  mark(...views: View[]): void {
    for (const v of views) this.stale.add(v);
    if (!this.frame) this.frame = requestAnimationFrame(() => this.flush());
  }

  private flush(): void {
    this.frame = 0;
    const due = this.order.filter((v) => this.stale.has(v));
    this.stale.clear();
    for (const view of due) {
      try {
        view.render();
      } catch (error) {
        console.error("tagwire viewer: a view failed to draw", error);
      }
    }
  }
}

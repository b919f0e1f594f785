// Special elements and containers (pydoover/ui/element.py, submodule.py).
import type { JsonObject } from "../json.js";
import { type ElementOptions, UIElement, uiError } from "./element.js";
import { defineFields, derived, type FieldOptions, type FieldValues, optional, withDefault } from "./fields.js";

/**
 * The notifications banner (`uiAlertStream`). pydoover pins its name to "significantEvent"
 * (the Doover 1 alert channel); keep the defaults. tagwire's alerts live on the `notifications`
 * channel (see alerts.ts).
 */
export class AlertStream extends UIElement {
  constructor(name = "significantEvent", displayString = "placeholder", options: ElementOptions = {}) {
    super(name, displayString, options);
  }

  get type(): string {
    return "uiAlertStream";
  }
}

const containerFields = {
  statusIcon: optional<string>(),
  children: derived<Container>((c): JsonObject => {
    const children: JsonObject = {};
    for (const child of c.children) children[child.name] = child.toJSON();
    return children;
  }),
};

export interface ContainerOptions extends ElementOptions, FieldOptions<typeof containerFields> {
  children?: UIElement[];
}

export interface Container extends FieldValues<typeof containerFields> {}

/** Groups elements (`uiContainer`); children are sent keyed by name. */
export class Container extends UIElement {
  static override readonly fields = defineFields(this, UIElement.fields, containerFields);

  private readonly childMap = new Map<string, UIElement>();
  private nextPosition = 101;

  constructor(name: string, displayString?: string, options: ContainerOptions = {}) {
    super(name, displayString, options);
    if (options.children !== undefined) this.add(...options.children);
  }

  get type(): string {
    return "uiContainer";
  }

  /** The direct children, in the order they were added. */
  get children(): UIElement[] {
    return [...this.childMap.values()];
  }

  /** A direct child by name. */
  child(name: string): UIElement | undefined {
    return this.childMap.get(name);
  }

  /** The element named `name` anywhere below this container. */
  find(name: string): UIElement | undefined {
    const direct = this.childMap.get(name);
    if (direct !== undefined) return direct;
    for (const c of this.childMap.values()) {
      if (c instanceof Container) {
        const found = c.find(name);
        if (found !== undefined) return found;
      }
    }
    return undefined;
  }

  /**
   * Adds elements (all or none: a name clash or an element that already has a parent throws
   * TAGWIRE_ERR_UI and changes nothing). Names must be unique in the whole application tree,
   * because commands and `ui.get()` address elements by name alone.
   */
  add(...children: UIElement[]): this {
    const root = this.root();
    const registry = root instanceof UIApplication ? root._registry : null;
    const incoming = new Set<string>();
    for (const c of children) {
      if (!(c instanceof UIElement)) throw uiError(`not a UI element: ${String(c)}`);
      if (c.parent !== null) throw uiError(`element ${JSON.stringify(c.name)} is already in container ${JSON.stringify(c.parent.name)}`);
      if (c === root || (c instanceof Container && c.contains(this))) throw uiError(`cannot add ${JSON.stringify(c.name)} inside itself`);
      for (const e of subtree(c)) {
        if (incoming.has(e.name) || (e === c && this.childMap.has(e.name)) || registry?.has(e.name)) {
          throw uiError(`duplicate UI element name ${JSON.stringify(e.name)}`);
        }
        incoming.add(e.name);
      }
    }
    for (const c of children) {
      this.childMap.set(c.name, c);
      c._parent = this;
      // Stored directly, not through the tracked setter: the add itself marks the tree dirty below.
      if (c.position === undefined) c._fields.position = this.nextPosition++;
      if (registry !== null) for (const e of subtree(c)) registry.set(e.name, e);
    }
    if (children.length > 0) this.markDirty();
    return this;
  }

  /** Removes direct children (by element or name); unknown ones are ignored. */
  remove(...children: (UIElement | string)[]): this {
    const root = this.root();
    const registry = root instanceof UIApplication ? root._registry : null;
    let removed = false;
    for (const item of children) {
      const name = typeof item === "string" ? item : item.name;
      const c = this.childMap.get(name);
      if (c === undefined || (typeof item !== "string" && c !== item)) continue;
      this.childMap.delete(name);
      c._parent = null;
      if (registry !== null) for (const e of subtree(c)) registry.delete(e.name);
      removed = true;
    }
    if (removed) this.markDirty();
    return this;
  }

  /** True when `element` is this container or lies below it. */
  contains(element: UIElement): boolean {
    for (let node: UIElement | null = element; node !== null; node = node.parent) if (node === this) return true;
    return false;
  }

  private root(): UIElement {
    let node: UIElement = this;
    while (node.parent !== null) node = node.parent;
    return node;
  }
}

function* subtree(element: UIElement): Generator<UIElement> {
  yield element;
  if (element instanceof Container) for (const c of element.children) yield* subtree(c);
}

const submoduleFields = {
  /** Sent as `statusString`. */
  status: optional<string>({ wire: "statusString" }),
  /** Start collapsed; sent as `defaultOpen: !collapsed`. Default false. */
  collapsed: withDefault<boolean>(false, { wire: "defaultOpen", toWire: (collapsed) => !collapsed }),
};

export interface SubmoduleOptions extends ContainerOptions, FieldOptions<typeof submoduleFields> {}

export interface Submodule extends FieldValues<typeof submoduleFields> {}

/** A collapsible group with a status line (`uiSubmodule`). */
export class Submodule extends Container {
  static override readonly fields = defineFields(this, Container.fields, submoduleFields);

  constructor(name: string, displayString?: string, options: SubmoduleOptions = {}) {
    super(name, displayString, options);
  }

  override get type(): string {
    return "uiSubmodule";
  }
}

const applicationFields = {
  /** `ApplicationVariant.stacked` or `.submodule`. */
  variant: optional<string>(),
};

export interface UIApplicationOptions extends ContainerOptions, FieldOptions<typeof applicationFields> {}

export interface UIApplication extends FieldValues<typeof applicationFields> {}

/**
 * The root of one app's UI (`uiApplication`, named after the app key), as pydoover's UIManager
 * builds it. It keeps the name index of the whole tree.
 */
export class UIApplication extends Container {
  static override readonly fields = defineFields(this, Container.fields, applicationFields);

  /** @internal Every element below, by name. */
  readonly _registry = new Map<string, UIElement>();

  constructor(name: string, displayString?: string, options: UIApplicationOptions = {}) {
    const { children, ...rest } = options;
    super(name, displayString, rest);
    // Added after the registry exists, so their names are indexed and checked.
    if (children !== undefined) this.add(...children);
  }

  override get type(): string {
    return "uiApplication";
  }
}

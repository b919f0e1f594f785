// The part of qlobber (no bundled types, no @types package) that the router equivalence test
// uses: the reference router the core's is compared against.
declare module "qlobber" {
  interface QlobberOptions {
    separator?: string;
    wildcard_one?: string;
    wildcard_some?: string;
    match_empty_levels?: boolean;
  }
  class Qlobber<V = unknown> {
    constructor(options?: QlobberOptions);
    add(topic: string, value: V): this;
    remove(topic: string, value?: V): this;
    match(topic: string): V[];
  }
  const qlobber: { Qlobber: typeof Qlobber };
  export default qlobber;
}

// Loads the wasm core and owns its memory views. Every module binding goes through one
// CoreInstance: it writes request bytes into the core's input region and reads replies from the
// output region, rebuilding its typed-array views only when linear memory has grown.
import { WASM_BASE64 } from "./wasm.generated.js";
import { copyBytes } from "./bytes.js";
import { TagwireError, statusError } from "./errors.js";
import { CORE_EXPORTS_HASH, type CoreExports } from "./exports.generated.js";
import { LAYOUT_HASH } from "./layout.generated.js";

export type { CoreExports };

/** FNV-1a of "name:arity;" over an instance's exports in order (arity -1 for non-functions). */
export function coreExportsHash(exports: Record<string, unknown>): number {
  let h = 0x811c9dc5;
  for (const name of Object.keys(exports)) {
    const v = exports[name];
    const text = `${name}:${typeof v === "function" ? v.length : -1};`;
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  }
  return h;
}

/**
 * What is wrong with a wasm instance's exports for this binding: exports that are not the ones
 * the typed interface was generated from (a name, an arity, one missing or extra), or a
 * layoutHash() from another assembly/layout.json. Empty when they match.
 */
export function coreExportProblems(exports: Record<string, unknown>): string[] {
  if (coreExportsHash(exports) !== CORE_EXPORTS_HASH) {
    return ["exports differ from the binding's generated interface (bindings/core/exports.generated.ts)"];
  }
  const hash = (exports.layoutHash as () => number)() >>> 0;
  return hash === LAYOUT_HASH ? [] : [`layout 0x${hash.toString(16)} differs from the binding's 0x${LAYOUT_HASH.toString(16)}`];
}

let compiled: Promise<WebAssembly.Module> | undefined;

function decodeBase64(b64: string): Uint8Array {
  // atob exists in browsers and Node >= 16; Buffer would pull a polyfill into browser bundles.
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Compiles the embedded module once per process; each instance gets its own memory. */
export function compileCore(): Promise<WebAssembly.Module> {
  compiled ??= WebAssembly.compile(decodeBase64(WASM_BASE64) as BufferSource);
  return compiled;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class CoreInstance {
  readonly exports: CoreExports;
  private buffer: ArrayBuffer | undefined;
  private u8View!: Uint8Array;
  private u32View!: Uint32Array;
  private f64View!: Float64Array;
  private dv!: DataView;
  /** A view of the whole input region, rebuilt only when it moves, grows, or memory grows. */
  private inView: Uint8Array | undefined;
  // The input region as last reserved: it moves only inside ioInReserve, and every reservation
  // goes through reserveIn, so a request that fits costs no call into the core.
  private inAt = 0;
  private inCap = 0;
  /** Set when the core aborted: its state can no longer be trusted. */
  dead: string | undefined;

  private constructor(exports: CoreExports) {
    this.exports = exports;
  }

  static async create(): Promise<CoreInstance> {
    const module = await compileCore();
    let self: CoreInstance | undefined;
    const imports = {
      env: {
        abort(msg: number, file: number, line: number, col: number) {
          const where = self ? `${self.readAsString(file)}:${line}:${col}` : `${line}:${col}`;
          const text = self ? self.readAsString(msg) : "abort";
          if (self) self.dead = `${text} at ${where}`;
          throw new TagwireError("TAGWIRE_ERR_CORE_DEAD", `tagwire core aborted: ${text} at ${where}`);
        },
        seed() {
          return Date.now();
        },
      },
    };
    const instance = await WebAssembly.instantiate(module, imports);
    // A wasm from another build of assembly/ would misread every record: refuse it here.
    const problems = coreExportProblems(instance.exports as Record<string, unknown>);
    if (problems.length > 0) {
      throw new TagwireError(
        "TAGWIRE_ERR_INTERNAL",
        `tagwire core does not match its binding (rebuild with npm run build:wasm): ${problems.join("; ")}`,
      );
    }
    self = new CoreInstance(instance.exports as unknown as CoreExports);
    return self;
  }

  /** Throws if a previous call aborted the core. */
  check(): void {
    if (this.dead) throw new TagwireError("TAGWIRE_ERR_CORE_DEAD", `tagwire core is dead: ${this.dead}`);
  }

  private refresh(): void {
    const buf = this.exports.memory.buffer;
    if (buf !== this.buffer) {
      this.buffer = buf;
      this.u8View = new Uint8Array(buf);
      this.u32View = new Uint32Array(buf);
      this.f64View = new Float64Array(buf);
      this.dv = new DataView(buf);
    }
  }

  get u8(): Uint8Array {
    this.refresh();
    return this.u8View;
  }
  get u32(): Uint32Array {
    this.refresh();
    return this.u32View;
  }
  get f64(): Float64Array {
    this.refresh();
    return this.f64View;
  }
  get view(): DataView {
    this.refresh();
    return this.dv;
  }

  /**
   * Address of the input region, holding at least `len` bytes. Asks the core only when the region
   * must grow (it may move then); the core's own modules never grow it past what was reserved here.
   */
  reserveIn(len: number): number {
    if (len <= this.inCap) return this.inAt;
    // At least the region's initial 64 KiB, which the core already holds: no move for small asks.
    const cap = Math.max(len, 65536);
    this.inAt = this.exports.ioInReserve(cap);
    this.inCap = cap;
    return this.inAt;
  }

  /** Address of the input region (as of the last reserveIn). */
  get inPtr(): number {
    return this.inCap === 0 ? this.reserveIn(0) : this.inAt;
  }

  /** Copies bytes into the input region; returns their address. */
  writeIn(bytes: Uint8Array): number {
    const ptr = this.reserveIn(bytes.length);
    this.u8.set(bytes, ptr);
    return ptr;
  }

  /**
   * Encodes a string as UTF-8 into the input region at `offset` bytes in; returns the byte
   * length. Reserves the worst case (3 bytes per UTF-16 unit) first.
   */
  writeInString(s: string, offset = 0): number {
    // A fresh subarray per call costs more than encoding a short name: one view is kept.
    const view = this.inputRegion(offset + s.length * 3);
    return encoder.encodeInto(s, offset === 0 ? view : view.subarray(offset)).written!;
  }

  /**
   * A view of the input region, holding at least `len` bytes: the same object until the region
   * moves or grows or memory grows (a grown memory detaches the old buffer: length 0).
   */
  inputRegion(len = 0): Uint8Array {
    let view = this.inView;
    const ptr = this.reserveIn(len);
    if (view === undefined || view.length !== this.inCap || view.byteOffset !== ptr) {
      view = this.inView = new Uint8Array(this.exports.memory.buffer, ptr, this.inCap);
    }
    return view;
  }

  /** A view of the output region's current reply (valid until the next core call). */
  outView(): Uint8Array {
    const ptr = this.exports.ioOutPtr();
    return this.u8.subarray(ptr, ptr + this.exports.ioOutLen());
  }

  /** A copy of the output region's current reply. */
  outCopy(): Uint8Array {
    const ptr = this.exports.ioOutPtr();
    return copyBytes(this.u8, ptr, ptr + this.exports.ioOutLen());
  }

  readUtf8(ptr: number, len: number): string {
    return decoder.decode(this.u8.subarray(ptr, ptr + len));
  }

  /** Reads an AssemblyScript string object (UTF-16, byte length stored just before it). */
  readAsString(ptr: number): string {
    if (!ptr) return "";
    const len = this.view.getUint32(ptr - 4, true) >>> 1;
    const units = new Uint16Array(this.exports.memory.buffer, ptr, len);
    return String.fromCharCode(...units);
  }

  /** Throws a TagwireError for a non-zero status. */
  ok(status: number, what: string): void {
    if (status !== 0) throw statusError(status, what);
  }
}

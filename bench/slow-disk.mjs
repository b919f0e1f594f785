// A SQLite storage whose durable commits take `delayMs` longer: the benches' model of a slow disk
// (an SD card, or a disk shared with other tenants), so the durability modes can be compared
// where the sync is what costs. The delay is added where each mode pays for its sync: after the
// thread-pool fdatasync ("fsync", and "auto" once it pools), blocking after the event-loop one
// ("auto" while fast), and blocking after COMMIT for SQLite's own FULL ("inline").
import { fdatasync, fdatasyncSync } from "node:fs";

/**
 * @param {any} SqliteStorage the class, from the build under test
 * @param {string} dataDir
 * @param {{ durability?: string, synchronous?: string, delayMs: number }} options as the storage takes them (checked there)
 */
export function slowDiskStorage(SqliteStorage, dataDir, { durability, synchronous, delayMs }) {
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const storage = new SqliteStorage(dataDir, {
    synchronous,
    durability,
    /** @param {number} fd */
    syncFile: (fd) => new Promise((res, rej) => fdatasync(fd, (err) => (err ? rej(err) : setTimeout(res, delayMs)))),
    /** @param {number} fd */
    syncFileSync: (fd) => {
      fdatasyncSync(fd);
      Atomics.wait(sleeper, 0, 0, delayMs);
    },
  });
  if (durability === "inline") {
    const inner = storage.commit;
    storage.commit = function () {
      const out = inner.call(this);
      Atomics.wait(sleeper, 0, 0, delayMs);
      return out;
    };
  }
  return storage;
}

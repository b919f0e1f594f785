// The whole ABI: everything JavaScript may call, and nothing else. Only numbers cross; bytes go
// through the regions in io.ts. Each module below owns one concept.
export { ioInReserve, ioInPtr, ioOutPtr, ioOutLen } from "./io";
export * from "./exports/router";
export * from "./exports/doc";
export * from "./exports/stats";
export * from "./exports/throttle";

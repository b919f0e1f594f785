// The whole ABI: everything JavaScript may call, and nothing else. Only numbers cross; bytes go
// through the regions in io.ts. Each module below owns one concept.
export { ioInReserve, ioInPtr, ioOutPtr, ioOutLen } from "./io";
export { layoutHash } from "./layout";
export {
  routerCreate,
  routerDispose,
  routerSubscribe,
  routerUnsubscribe,
  routerSubscriptionCount,
  routerInternChannel,
  routerMatchId,
} from "./router";
// Documents and channel aggregates (doc.ts, store.ts). docSetEpoch is a test hook. Core-internal
// callers (pipeline.ts) use the AS-level storeOpenAt / storeApplyInto / storeLastVersion /
// storeLastChanged and docSetReplaceKeys, documented in store.ts and doc.ts (JavaScript reads the
// same results from the STORE_RESULT block instead).
export { docApplyDiff, docGenerateDiff, docValidatePayload, docSetLimits, docSetEpoch } from "./doc";
export {
  storeCreate,
  storeDispose,
  storeOpen,
  storeSlotOf,
  storeRemove,
  storeApply,
  storeResultPtr,
  storeGet,
  storeVersion,
  storeSize,
  storeNames,
} from "./store";
export {
  statsCreate,
  statsAdd,
  statsAddMany,
  statsExpire,
  statsReset,
  statsDispose,
  statsResultPtr,
  statsPublishM2,
} from "./stats";
export {
  rateCreate,
  rateCheck,
  rateCheckMany,
  rateRemainingMs,
  rateReset,
  rateDispose,
  changeCreate,
  changeCheck,
  changeCheckMany,
  changeLast,
  changeReset,
  changeDispose,
} from "./throttle";
export { pipelineCreate, pipelineDispose, pipelineIngest } from "./pipeline";

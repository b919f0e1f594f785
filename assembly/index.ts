// The whole ABI: everything JavaScript may call, and nothing else. Only numbers cross; bytes go
// through the regions in io.ts. Each module below owns one concept.
export { ioInReserve, ioInPtr, ioOutPtr, ioOutLen } from "./io";
export {
  routerCreate,
  routerDispose,
  routerSubscribe,
  routerUnsubscribe,
  routerSubscriptionCount,
  routerInternChannel,
  routerMatchId,
} from "./router";
export { docApplyDiff, docGenerateDiff, docValidatePayload, docSetLimits, docSetEpoch } from "./doc";
export {
  storeCreate,
  storeDispose,
  storeOpen,
  storeSlotOf,
  storeRemove,
  storeApply,
  storeResultPtr,
  storeLastVersion,
  storeLastChanged,
  storeGet,
  storeVersion,
  storeSize,
  storeNames,
  storeName,
} from "./store";
export {
  statsCreate,
  statsAdd,
  statsAddMany,
  statsExpire,
  statsReset,
  statsDispose,
  statsResultPtr,
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

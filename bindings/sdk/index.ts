// The agent SDK: agents and channels over a Session, the in-process LocalBus, applications and
// tags, change-based logging triggers, publishing helpers and rolling statistics.
export type { Json, Message, ChannelEvent, PublishOptions, PublishResult, MessageQuery, Unsubscribe, Session } from "./session.js";
export { Agent } from "./agent.js";
export type { AgentOptions, AgentPublishOptions, ReadOptions, GetMessagesOptions, SubscribeOptions, ChannelEventHandler } from "./agent.js";
export { LocalBus } from "./local-bus.js";
export type { LocalBusOptions } from "./local-bus.js";
export { Application, TAG_CHANNEL } from "./application.js";
export type { ApplicationOptions, TagAddress, SetTagOptions, GetTagOptions, TagChange, TagChangeHandler } from "./application.js";
export { LogTrigger, Cross, Rise, Fall, Delta, AnyChange, Enter, Exit, evaluateTriggers } from "./triggers.js";
export type { CrossingOptions, DeltaOptions, TriggerState } from "./triggers.js";
export type { PublishThrottledOptions, PublishOnChangeOptions } from "./publishers.js";
export * as tags from "./tags/index.js";
export * as ui1x from "./ui/v1/index.js";
export { Tag, BoundTag, coerceTagValue } from "./tags/declared.js";
export type { TagType, TagOptions, TagDeclarations, BoundTags } from "./tags/declared.js";
export { RollingStats } from "./stats.js";
export type { StatsSummary, RollingStatsOptions, RollingStatsSnapshot } from "./stats.js";
export type { ErrorHandler } from "./errors.js";
export { isValidChannelName, assertChannelName, assertChannelPattern, MAX_NAME_BYTES } from "./names.js";

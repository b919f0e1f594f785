// The SDK's name rules are the core binding's (bindings/core/names.ts): one module of rules,
// reachable from here for SDK code and apps.
export * from "../core/names.js";

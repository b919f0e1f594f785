// Which Doover Data API route a path under /api is (pydoover/api/data/_sync.py builds these).
// Channel names may hold "/" in tagwire; the route keywords are read from the end of the path,
// so `/agents/a/channels/site/pump/aggregate` is the aggregate of channel "site/pump".

export type DooverRoute =
  | { kind: "channels"; agent: string }
  | { kind: "channel"; agent: string; channel: string }
  | { kind: "aggregate"; agent: string; channel: string }
  | { kind: "messages"; agent: string; channel: string }
  | { kind: "message"; agent: string; channel: string; messageId: string }
  | { kind: "multiAggregates"; channel: string }
  | { kind: "multiMessages"; channel: string }
  | { kind: "unsupported"; what: string }
  | { kind: "none" };

/** Doover concepts tagwire has no counterpart for, by path shape (for the 501 body). */
function unsupportedUnderChannel(rest: string[]): string | undefined {
  const n = rest.length;
  const last = rest[n - 1];
  if (n >= 3 && rest[n - 3] === "aggregate" && rest[n - 2] === "attachments") return "aggregate attachments (files)";
  if (n >= 2 && rest[n - 2] === "messages" && last === "timeseries") return "message timeseries";
  if (n >= 3 && rest[n - 3] === "messages" && last === "logs") return "processor message logs";
  if (last === "alarms" || (n >= 2 && rest[n - 2] === "alarms"))
    return "channel alarms (tagwire's alerts are evaluated by the SDK, not stored by the hub)";
  if (last === "subscriptions") return "WebSocket subscription records";
  return undefined;
}

export function parseDooverRoute(pathname: string): DooverRoute {
  if (pathname !== "/api" && !pathname.startsWith("/api/")) return { kind: "none" };
  let parts: string[];
  try {
    parts = pathname
      .slice(4)
      .split("/")
      .filter((p, i, all) => p !== "" || (i > 0 && i < all.length - 1))
      .map((p) => decodeURIComponent(p));
  } catch {
    return { kind: "unsupported", what: "a malformed path" };
  }
  if (parts[0] !== "agents")
    return { kind: "unsupported", what: `/${parts[0] ?? ""} (billing, organisations, processors, TURN and connection records)` };
  if (parts.length === 1) return { kind: "unsupported", what: "the agent list (tagwire has no agent registry)" };
  if (parts[1] === "channels") {
    if (parts.length >= 4 && parts[parts.length - 1] === "aggregates")
      return { kind: "multiAggregates", channel: parts.slice(2, -1).join("/") };
    if (parts.length >= 4 && parts[parts.length - 1] === "messages")
      return { kind: "multiMessages", channel: parts.slice(2, -1).join("/") };
    return { kind: "unsupported", what: "this multi-agent query" };
  }
  if (parts[1] === "messages" || parts[1] === "aggregates") return { kind: "unsupported", what: "batch mutations" };
  const agent = parts[1]!;
  if (parts.length === 2 || parts[2] !== "channels") {
    return {
      kind: "unsupported",
      what: `/agents/{id}/${parts[2] ?? ""} (notifications endpoints, connections, data series, tokens, processors)`,
    };
  }
  const rest = parts.slice(3);
  if (rest.length === 0) return { kind: "channels", agent };
  const what = unsupportedUnderChannel(rest);
  if (what) return { kind: "unsupported", what };
  const n = rest.length;
  if (n >= 2 && rest[n - 1] === "aggregate") return { kind: "aggregate", agent, channel: rest.slice(0, -1).join("/") };
  if (n >= 2 && rest[n - 1] === "messages") return { kind: "messages", agent, channel: rest.slice(0, -1).join("/") };
  if (n >= 3 && rest[n - 2] === "messages" && /^[0-9]+$/.test(rest[n - 1]!)) {
    return { kind: "message", agent, channel: rest.slice(0, -2).join("/"), messageId: rest[n - 1]! };
  }
  return { kind: "channel", agent, channel: rest.join("/") };
}

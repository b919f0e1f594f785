// Notifications and deduplicated alerts on the agent's `notifications` channel.
//
// Messages: each notification is appended to the `notifications` log as exactly the payload Doover
//   fans out to subscribers (pydoover 1.12.5 models/data/notification.py, Notification.to_dict):
//     { message: string, title?: string, severity?: 3..7, topic?: string }
//   severity is Doover's integer (Trace 3, Debug 4, Info 5, Warn 6, Critical 7); names are
//   accepted case-insensitively, with pydoover's aliases (warning -> Warn; error, err, fatal,
//   crit -> Critical). No other field is added: Doover replaces a payload it cannot read with its
//   raw JSON.
// Aggregate (tagwire's; Doover 2 keeps notifications as messages only):
//     { notification_msg: <latest message>,
//       active: { [appKey]: { [alertId]: { message, severity?, title?, topic?, since: <ms> } } } }
//   `notification_msg` is the field Doover 1's alert banner (pydoover 0.4 send_notification on
//   `significantEvent`) shows. `active` holds the alerts sent with sendAlertOnce and not yet
//   cleared: it is the dedup state, kept in the channel so it survives a restart (read once, on
//   the first alert call). This class assumes it is the only writer of its app's `active` entry;
//   call reload() after another client changed it.
import { TagwireError } from "../core/errors.js";
import type { Json } from "./session.js";
import type { AgentLike } from "./ui/agent.js";
import { assertUIName } from "./ui/elements.js";
import { cloneJson, isObject, getPath, type JsonObject } from "./json.js";

export const NOTIFICATIONS_CHANNEL = "notifications";

/** Doover's severity levels and their wire integers. */
export const NotificationSeverity = { Trace: 3, Debug: 4, Info: 5, Warn: 6, Critical: 7 } as const;

export type NotificationSeverityName = "trace" | "debug" | "info" | "warn" | "critical" | "warning" | "error" | "err" | "fatal" | "crit";

export interface NotificationOptions {
  /** A headline; Doover defaults it to the agent's display name. */
  title?: string;
  /** Subscribers receive notifications at or above their severity. A name or 3..7. */
  severity?: NotificationSeverityName | Capitalize<NotificationSeverityName> | number;
  /** Matched against subscriptions' topic filters. */
  topic?: string;
}

/** The message appended to the `notifications` log. */
export interface NotificationPayload {
  message: string;
  title?: string;
  severity?: number;
  topic?: string;
}

export interface ActiveAlert extends NotificationPayload {
  /** When the alert was sent (ms since the epoch). */
  since: number;
}

const SEVERITY_NAMES: Record<string, number> = {
  trace: 3,
  debug: 4,
  info: 5,
  warn: 6,
  critical: 7,
  warning: 6,
  error: 7,
  err: 7,
  fatal: 7,
  crit: 7,
};

function argumentError(message: string): TagwireError {
  return new TagwireError("TAGWIRE_ERR_ARGUMENT", message);
}

/** Validates and builds the Doover payload (TAGWIRE_ERR_ARGUMENT on a bad field). */
export function toNotificationPayload(message: string, options: NotificationOptions = {}): NotificationPayload {
  if (typeof message !== "string" || message.trim().length === 0) throw argumentError("notification message must be a non-empty string");
  const payload: NotificationPayload = { message };
  for (const key of ["title", "topic"] as const) {
    const value = options[key];
    if (value !== undefined && value !== null && typeof value !== "string") throw argumentError(`notification ${key} must be a string`);
  }
  if (options.title !== undefined && options.title !== null) payload.title = options.title;
  if (options.severity !== undefined && options.severity !== null) payload.severity = severityNumber(options.severity);
  if (options.topic !== undefined && options.topic !== null) payload.topic = options.topic;
  return payload;
}

function severityNumber(severity: string | number): number {
  if (typeof severity === "number") {
    if (Number.isInteger(severity) && severity >= 3 && severity <= 7) return severity;
  } else if (typeof severity === "string") {
    const n = SEVERITY_NAMES[severity.trim().toLowerCase()];
    if (n !== undefined) return n;
  }
  throw argumentError(`unknown notification severity ${JSON.stringify(severity)}: expected trace, debug, info, warn, critical or 3..7`);
}

export class Alerts {
  readonly agent: AgentLike;
  readonly appKey: string;
  /** Active alert ids of this app -> what was sent; null until loaded from the aggregate. */
  private active: Map<string, ActiveAlert> | null = null;
  private loading: Promise<Map<string, ActiveAlert>> | null = null;

  constructor(options: { agent: AgentLike; appKey: string }) {
    assertUIName(options.appKey, "app key");
    this.agent = options.agent;
    this.appKey = options.appKey;
  }

  /** Sends a notification (a message on `notifications`); returns the payload sent. */
  async sendNotification(message: string, options: NotificationOptions = {}): Promise<NotificationPayload> {
    const payload = toNotificationPayload(message, options);
    await this.agent.createMessage(NOTIFICATIONS_CHANNEL, { ...payload });
    await this.agent.publish(NOTIFICATIONS_CHANNEL, { notification_msg: payload.message });
    return payload;
  }

  /**
   * Sends the notification unless alert `id` is already active; the alert stays active (and
   * further calls with that id send nothing) until clearAlert(id). Resolves true when sent.
   */
  async sendAlertOnce(id: string, message: string, options: NotificationOptions = {}): Promise<boolean> {
    assertUIName(id, "alert id");
    const payload = toNotificationPayload(message, options);
    const active = await this.load();
    if (active.has(id)) return false;
    // Claimed synchronously after the await, so concurrent calls with the same id send once.
    const entry: ActiveAlert = { ...payload, since: Date.now() };
    active.set(id, entry);
    try {
      // The notification goes first: if the state write fails after it, the next call repeats the
      // alert rather than losing it.
      await this.agent.createMessage(NOTIFICATIONS_CHANNEL, { ...payload });
    } catch (error) {
      active.delete(id);
      throw error;
    }
    await this.agent.publish(NOTIFICATIONS_CHANNEL, {
      notification_msg: payload.message,
      active: { [this.appKey]: { [id]: { ...entry } } },
    });
    return true;
  }

  /**
   * Ends alert `id` so the next sendAlertOnce(id) sends again. With `resolution`, also sends that
   * notification (e.g. "temperature back to normal"). Resolves true when the alert was active.
   */
  async clearAlert(id: string, resolution?: { message: string } & NotificationOptions): Promise<boolean> {
    assertUIName(id, "alert id");
    const payload = resolution === undefined ? undefined : toNotificationPayload(resolution.message, resolution);
    const active = await this.load();
    if (!active.delete(id)) return false;
    await this.agent.publish(NOTIFICATIONS_CHANNEL, { active: { [this.appKey]: { [id]: null } } });
    if (payload !== undefined) {
      await this.agent.createMessage(NOTIFICATIONS_CHANNEL, { ...payload });
      await this.agent.publish(NOTIFICATIONS_CHANNEL, { notification_msg: payload.message });
    }
    return true;
  }

  async isAlertActive(id: string): Promise<boolean> {
    return (await this.load()).has(id);
  }

  /** This app's active alerts by id. */
  async activeAlerts(): Promise<Record<string, ActiveAlert>> {
    return Object.fromEntries([...(await this.load())].map(([id, alert]) => [id, cloneJson(alert)]));
  }

  /** Re-reads the active alerts from the aggregate (after another client changed them). */
  async reload(): Promise<void> {
    this.active = null;
    this.loading = null;
    await this.load();
  }

  private load(): Promise<Map<string, ActiveAlert>> {
    if (this.active !== null) return Promise.resolve(this.active);
    this.loading ??= this.agent.getAggregate(NOTIFICATIONS_CHANNEL).then(
      (aggregate) => {
        const map = new Map<string, ActiveAlert>();
        const stored = getPath(aggregate, ["active", this.appKey]);
        if (isObject(stored)) {
          for (const [id, value] of Object.entries(stored)) {
            if (value !== null) map.set(id, toActiveAlert(value));
          }
        }
        this.active = map;
        return map;
      },
      (error: unknown) => {
        this.loading = null;
        throw error;
      },
    );
    return this.loading;
  }
}

function toActiveAlert(value: Json): ActiveAlert {
  const v: JsonObject = isObject(value) ? value : {};
  const alert: ActiveAlert = { message: typeof v.message === "string" ? v.message : "", since: typeof v.since === "number" ? v.since : 0 };
  if (typeof v.title === "string") alert.title = v.title;
  if (typeof v.severity === "number") alert.severity = v.severity;
  if (typeof v.topic === "string") alert.topic = v.topic;
  return alert;
}

// Notifications and deduplicated alerts on the `notifications` channel, over a real LocalBus.
import { describe, expect, it } from "vitest";
import { TagwireError } from "../bindings/core/errors.js";
import { Alerts, NotificationSeverity, toNotificationPayload } from "../bindings/sdk/alerts.js";
import { Application, LocalBus, type ChannelEvent, type Json } from "../bindings/sdk/index.js";

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    return error instanceof TagwireError ? error.code : `not a TagwireError: ${String(error)}`;
  }
  return undefined;
}

function setup() {
  const bus = new LocalBus();
  const dev = bus.agent("dev");
  return { bus, dev, alerts: new Alerts({ agent: dev, appKey: "tank" }) };
}

describe("sendNotification", () => {
  it("appends Doover's payload to the notifications log and sets notification_msg", async () => {
    const { bus, dev, alerts } = setup();
    const viewer = bus.agent("viewer");
    const events: ChannelEvent[] = [];
    viewer.subscribe("notifications", (event) => void events.push(event), { agentId: "dev" });

    const sent = await alerts.sendNotification("Tank level low", { title: "Tank 3", severity: "warning", topic: "levels" });
    expect(sent).toEqual({ message: "Tank level low", title: "Tank 3", severity: 6, topic: "levels" });
    await alerts.sendNotification("Pump started");

    const messages = (await dev.getMessages("notifications")).map((m) => m.data);
    expect(messages).toEqual([{ message: "Tank level low", title: "Tank 3", severity: 6, topic: "levels" }, { message: "Pump started" }]);
    expect(await dev.getAggregate("notifications")).toEqual({ notification_msg: "Pump started" });
    expect(events.filter((e) => e.type === "message").map((e) => (e.type === "message" ? e.message.data : null))).toEqual(messages);
    await bus.close();
  });

  it("maps severities like pydoover and rejects bad fields without writing", async () => {
    const cases: Array<[string | number, number]> = [
      ["trace", 3],
      ["Debug", 4],
      ["INFO", 5],
      ["warn", 6],
      ["warning", 6],
      ["critical", 7],
      ["error", 7],
      ["err", 7],
      ["fatal", 7],
      ["crit", 7],
      [3, 3],
      [7, 7],
    ];
    for (const [input, wire] of cases) {
      expect(toNotificationPayload("m", { severity: input as never }).severity, String(input)).toBe(wire);
    }
    expect(NotificationSeverity).toEqual({ Trace: 3, Debug: 4, Info: 5, Warn: 6, Critical: 7 });

    const { bus, dev, alerts } = setup();
    expect(await codeOf(alerts.sendNotification("m", { severity: "loud" as never }))).toBe("TAGWIRE_ERR_ARGUMENT");
    expect(await codeOf(alerts.sendNotification("m", { severity: 8 }))).toBe("TAGWIRE_ERR_ARGUMENT");
    expect(await codeOf(alerts.sendNotification("m", { severity: 5.5 }))).toBe("TAGWIRE_ERR_ARGUMENT");
    expect(await codeOf(alerts.sendNotification("   "))).toBe("TAGWIRE_ERR_ARGUMENT");
    expect(await codeOf(alerts.sendNotification(42 as unknown as string))).toBe("TAGWIRE_ERR_ARGUMENT");
    expect(await codeOf(alerts.sendNotification("m", { title: 1 as unknown as string }))).toBe("TAGWIRE_ERR_ARGUMENT");
    expect(await dev.getMessages("notifications")).toEqual([]);
    // Still usable afterwards.
    await alerts.sendNotification("ok", { severity: 5 });
    expect((await dev.getMessages("notifications")).map((m) => m.data)).toEqual([{ message: "ok", severity: 5 }]);
    await bus.close();
  });
});

describe("sendAlertOnce / clearAlert", () => {
  it("sends once per id until cleared, then again", async () => {
    const { bus, dev, alerts } = setup();
    expect(await alerts.sendAlertOnce("high_temp", "Temperature high", { severity: "critical" })).toBe(true);
    expect(await alerts.sendAlertOnce("high_temp", "Temperature high")).toBe(false);
    expect(await alerts.sendAlertOnce("high_temp", "Temperature still high")).toBe(false);
    expect(await alerts.sendAlertOnce("low_level", "Level low")).toBe(true);
    expect((await dev.getMessages("notifications")).map((m) => m.data)).toEqual([
      { message: "Temperature high", severity: 7 },
      { message: "Level low" },
    ]);
    const aggregate = (await dev.getAggregate("notifications")) as { active: { tank: Record<string, { since: number }> } };
    expect(Object.keys(aggregate.active.tank).sort()).toEqual(["high_temp", "low_level"]);
    expect(aggregate.active.tank.high_temp).toMatchObject({ message: "Temperature high", severity: 7 });
    expect(typeof aggregate.active.tank.high_temp!.since).toBe("number");

    expect(await alerts.clearAlert("high_temp")).toBe(true);
    expect(await alerts.clearAlert("high_temp")).toBe(false);
    expect(await alerts.clearAlert("never_sent")).toBe(false);
    expect(Object.keys(((await dev.getAggregate("notifications")) as any).active.tank)).toEqual(["low_level"]);
    expect(await alerts.sendAlertOnce("high_temp", "Temperature high again")).toBe(true);
    expect((await dev.getMessages("notifications")).map((m) => (m.data as { message: string }).message)).toEqual([
      "Temperature high",
      "Level low",
      "Temperature high again",
    ]);
    await bus.close();
  });

  it("keeps the active set in the channel, so a restarted app does not repeat an alert", async () => {
    const { bus, dev, alerts } = setup();
    await alerts.sendAlertOnce("door_open", "Door open");
    const restarted = new Alerts({ agent: dev, appKey: "tank" });
    expect(await restarted.isAlertActive("door_open")).toBe(true);
    expect(await restarted.sendAlertOnce("door_open", "Door open")).toBe(false);
    expect(await restarted.clearAlert("door_open", { message: "Door closed", severity: "info" })).toBe(true);
    expect((await dev.getMessages("notifications")).map((m) => m.data)).toEqual([
      { message: "Door open" },
      { message: "Door closed", severity: 5 },
    ]);
    // The first instance's memory is stale until it reloads.
    await alerts.reload();
    expect(await alerts.activeAlerts()).toEqual({});
    await bus.close();
  });

  it("deduplicates concurrent calls and keeps apps apart", async () => {
    const { bus, dev, alerts } = setup();
    const other = new Alerts({ agent: dev, appKey: "pump" });
    const results = await Promise.all([
      alerts.sendAlertOnce("fault", "Fault A"),
      alerts.sendAlertOnce("fault", "Fault A"),
      alerts.sendAlertOnce("fault", "Fault A"),
      other.sendAlertOnce("fault", "Fault B"),
      other.sendAlertOnce("fault", "Fault B"),
    ]);
    expect(results).toEqual([true, false, false, true, false]);
    expect((await dev.getMessages("notifications")).map((m) => (m.data as { message: string }).message).sort()).toEqual([
      "Fault A",
      "Fault B",
    ]);
    expect(Object.keys(((await dev.getAggregate("notifications")) as any).active)).toEqual(["tank", "pump"]);
    expect(await other.clearAlert("fault")).toBe(true);
    expect(await alerts.isAlertActive("fault")).toBe(true);
    await bus.close();
  });

  it("a failed send leaves the alert inactive; bad ids are refused", async () => {
    const { bus, alerts } = setup();
    expect(await codeOf(alerts.sendAlertOnce("bad id", "m"))).toBe("TAGWIRE_ERR_NAME");
    expect(await codeOf(alerts.clearAlert("a/b"))).toBe("TAGWIRE_ERR_NAME");
    expect(await alerts.isAlertActive("x")).toBe(false); // loads the (empty) state
    await bus.close();
    await expect(alerts.sendAlertOnce("x", "m")).rejects.toBeInstanceOf(Error);
    expect(await alerts.isAlertActive("x")).toBe(false);
  });

  it("an Application delegates to its alerts", async () => {
    const bus = new LocalBus();
    const dev = bus.agent("dev");
    const levels: Json[] = [];
    class Tank extends Application {
      level = 50;
      override async mainLoop(): Promise<void> {
        levels.push(this.level);
        if (this.level < 20) await this.sendAlertOnce("low", `Level ${this.level}% is low`, { severity: "warn" });
        else if (await this.clearAlert("low")) await this.sendNotification("Level back to normal");
      }
    }
    const tank = new Tank({ agent: dev, appKey: "tank" });
    for (const level of [50, 15, 10, 5, 40, 12]) {
      tank.level = level;
      await tank.step();
    }
    expect(levels).toEqual([50, 15, 10, 5, 40, 12]);
    expect((await dev.getMessages("notifications")).map((m) => m.data)).toEqual([
      { message: "Level 15% is low", severity: 6 },
      { message: "Level back to normal" },
      { message: "Level 12% is low", severity: 6 },
    ]);
    await tank.stop();
    await bus.close();
  });
});

// Names <-> NATS subjects and KV keys: every legal tagwire name maps to a legal subject (and KV
// key) and back to itself. Seeded random names; the seed is printed.
import { describe, expect, test } from "vitest";
import { kvKeyToRoute, levelToToken, routeToKvKey, routeToSubject, subjectToRoute } from "../hub/cluster/subjects.js";
import { isValidChannelName } from "../bindings/sdk/names.js";

const LEVEL_CHARS = "ABCxyz019_.:-";
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

/** A NATS subject token: non-empty, no whitespace, no `.`, not a lone `*` or `>`. */
const legalToken = (t: string) => t.length > 0 && !/[\s.]/.test(t) && t !== "*" && t !== ">";
const legalKvKey = (k: string) => /^[-/_=.a-zA-Z0-9]+$/.test(k) && !k.startsWith(".") && !k.endsWith(".");

describe("cluster subjects", () => {
  test("examples", () => {
    expect(routeToSubject("dev.1", "sensors/t:1/a.b")).toBe("dev%2E1.sensors.t:1.a%2Eb");
    expect(subjectToRoute("dev%2E1.sensors.t:1.a%2Eb")).toEqual({ agentId: "dev.1", channel: "sensors/t:1/a.b" });
    expect(routeToKvKey("dev.1", "a/b:c")).toBe("dev=2E1/a/b=3Ac");
    expect(levelToToken("...")).toBe("%2E%2E%2E");
  });

  test("random legal names round-trip and are legal subjects and KV keys", () => {
    const seed = Number(process.env.SEED ?? Date.now() % 1e9);
    console.log(`cluster.subjects seed=${seed}`);
    const r = rng(seed);
    const level = () => Array.from({ length: 1 + Math.floor(r() * 6) }, () => LEVEL_CHARS[Math.floor(r() * LEVEL_CHARS.length)]).join("");
    for (let i = 0; i < 5000; i++) {
      const agentId = level();
      const channel = Array.from({ length: 1 + Math.floor(r() * 5) }, level).join("/");
      expect(isValidChannelName(channel)).toBe(true);
      const subject = routeToSubject(agentId, channel);
      for (const t of subject.split(".")) expect(legalToken(t), `${subject} (seed ${seed})`).toBe(true);
      expect(subjectToRoute(subject)).toEqual({ agentId, channel });
      const key = routeToKvKey(agentId, channel);
      expect(legalKvKey(key), `${key} (seed ${seed})`).toBe(true);
      expect(kvKeyToRoute(key)).toEqual({ agentId, channel });
    }
  });
});

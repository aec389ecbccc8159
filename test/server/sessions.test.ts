import { describe, expect, it } from "vitest";

import { VirtualClock } from "../../src/engine/virtual-clock.js";
import {
  MAX_SESSIONS,
  parseCookies,
  serializeCookie,
  SessionStore,
  tokensEqual,
} from "../../src/server/sessions.js";

const T0 = Date.UTC(2025, 5, 16, 0, 0, 0);

describe("session store", () => {
  it("creates 256-bit ids", () => {
    const store = new SessionStore({ clock: new VirtualClock(T0) });
    const { id, session } = store.create();

    expect(Buffer.from(id, "base64url")).toHaveLength(32);
    expect(Buffer.from(session.csrfToken, "base64url")).toHaveLength(32);
    expect(store.get(id)).toBe(session);
  });

  it("expires sessions", () => {
    const clock = new VirtualClock(T0);
    const store = new SessionStore({ clock, ttlMs: 60_000 });
    const { id } = store.create();
    clock.set(T0 + 60_000);

    expect(store.get(id)).toBeUndefined();
  });

  it.each([
    ["an unknown id", "nope"],
    ["no id", undefined],
    ["an empty id", ""],
  ])("finds nothing for %s", (_name, id) => {
    const store = new SessionStore({ clock: new VirtualClock(T0) });
    store.create();
    expect(store.get(id)).toBeUndefined();
  });

  it("ends a session on delete", () => {
    const store = new SessionStore({ clock: new VirtualClock(T0) });
    const { id } = store.create();
    store.delete(id);

    expect(store.get(id)).toBeUndefined();
  });

  it("drops the oldest beyond the cap", () => {
    const store = new SessionStore({ clock: new VirtualClock(T0) });
    const first = store.create();
    for (let index = 0; index < MAX_SESSIONS; index += 1) {
      store.create();
    }

    expect(store.get(first.id)).toBeUndefined();
    expect(store.size).toBe(MAX_SESSIONS);
  });
});

describe("cookies", () => {
  it("parses a Cookie header", () => {
    const cookies = parseCookies("a=1; tesla_sync_session=abc=; a=2; junk");

    expect(cookies.get("a")).toBe("1");
    expect(cookies.get("tesla_sync_session")).toBe("abc=");
    expect(cookies.has("junk")).toBe(false);
  });

  it.each([
    [false, "s=v; Path=/; Max-Age=3600; HttpOnly; SameSite=Strict"],
    [true, "s=v; Path=/; Max-Age=3600; HttpOnly; SameSite=Strict; Secure"],
  ])("serializes with secure %s", (secure, expected) => {
    expect(serializeCookie("s", "v", { maxAgeSeconds: 3600, secure })).toBe(
      expected,
    );
  });

  it.each([
    ["equal tokens", "token-a", "token-a", true],
    ["different tokens", "token-a", "token-b", false],
    ["a missing token", undefined, "token-a", false],
  ])("compares %s", (_name, a, b, expected) => {
    expect(tokensEqual(a, b)).toBe(expected);
  });
});

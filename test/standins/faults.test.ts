import { describe, expect, it } from "vitest";

import { FaultSwitch } from "../../src/standins/faults.js";

describe("FaultSwitch", () => {
  it.each([
    [1, 1],
    [3, 3],
  ])("applies count %i to %i requests", (count, expected) => {
    const faults = new FaultSwitch();
    faults.arm({ kind: "server-error", count });
    let applied = 0;
    while (faults.take("/any") !== undefined && applied < 10) {
      applied += 1;
    }

    expect(applied).toBe(expected);
  });

  it("keeps an Infinity fault armed", () => {
    const faults = new FaultSwitch();
    faults.arm({ kind: "server-error", count: Infinity });
    for (let index = 0; index < 100; index += 1) {
      faults.take("/any");
    }

    expect(faults.take("/any")?.kind).toBe("server-error");
  });

  it("matches only paths that include pathIncludes", () => {
    const faults = new FaultSwitch();
    faults.arm({ kind: "timeout", pathIncludes: "prices" });

    expect(faults.take("/v1/sites")).toBeUndefined();
    expect(faults.take("/v1/sites/x/prices")?.kind).toBe("timeout");
  });

  it.each([0, -1, 1.5, Number.NaN])("rejects count %d", (count) => {
    const faults = new FaultSwitch();

    expect(() => faults.arm({ kind: "server-error", count })).toThrow(
      RangeError,
    );
    expect(faults.take("/any")).toBeUndefined();
  });
});

import { vi } from "vitest";

/**
 * Fakes only the timer functions and Date. Sockets keep the real event loop
 * (setImmediate, process.nextTick), so real I/O still happens while tests
 * move time on with `vi.advanceTimersByTimeAsync`.
 */
export function useTimerFakes(): void {
  vi.useFakeTimers({
    toFake: [
      "setTimeout",
      "clearTimeout",
      "setInterval",
      "clearInterval",
      "Date",
    ],
  });
}

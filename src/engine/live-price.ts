/**
 * Keeps the latest live price pair pushed by Amber's WebSocket and decides
 * whether it is fresh enough to price the current half hour and whether it
 * moved far enough from the uploaded tariff to justify an immediate sync.
 */
import type { CurrentInterval } from "../amber/schemas.js";
import type { StoredSlot } from "./state-store.js";
import type { LiveFeedState, LivePriceStatus } from "./types.js";

/** The latest general and feed-in CurrentInterval from a push, with the arrival time. */
export interface LivePair {
  general: CurrentInterval;
  feedIn: CurrentInterval | undefined;
  receivedAt: number;
}

/** How far a live price is from the uploaded current slot, $/kWh. */
export interface LiveMove {
  label: string;
  buyDelta: number;
  sellDelta: number;
}

/** Tracks the live feed's state and latest prices. */
export class LivePriceTracker {
  #state: LiveFeedState = "off";
  #latest: LivePair | undefined;

  get state(): LiveFeedState {
    return this.#state;
  }

  set state(state: LiveFeedState) {
    this.#state = state;
  }

  /** Stores a push. Returns false when it contains no general-channel price. */
  accept(prices: readonly CurrentInterval[], receivedAt: number): boolean {
    const general = prices.find((price) => price.channelType === "general");
    if (general === undefined) {
      return false;
    }
    const feedIn = prices.find((price) => price.channelType === "feedIn");
    this.#latest = { general, feedIn, receivedAt };
    return true;
  }

  /**
   * Returns the live prices for the builder when the pushed interval
   * contains `now`; an older push would price the wrong 5 minutes.
   */
  freshAt(now: number): CurrentInterval[] | undefined {
    const latest = this.#latest;
    if (latest === undefined) {
      return undefined;
    }
    const start = Date.parse(latest.general.startTime) - 1000;
    const end = Date.parse(latest.general.endTime);
    if (now < start || now >= end) {
      return undefined;
    }
    return latest.feedIn === undefined
      ? [latest.general]
      : [latest.general, latest.feedIn];
  }

  /**
   * Compares the latest push with the uploaded slot containing `now`, using
   * the rates Tesla would see: $/kWh, sell as the negated feed-in price,
   * both clamped at zero. Returns undefined when there is nothing to compare.
   */
  moveFrom(slots: readonly StoredSlot[], now: number): LiveMove | undefined {
    const live = this.freshAt(now);
    const latest = this.#latest;
    if (live === undefined || latest === undefined) {
      return undefined;
    }
    const slot = slots.find(
      (candidate) =>
        Date.parse(candidate.start) <= now && now < Date.parse(candidate.end),
    );
    if (slot === undefined) {
      return undefined;
    }
    const buy = Math.max(0, latest.general.perKwh / 100);
    const sellDelta =
      latest.feedIn === undefined
        ? 0
        : Math.abs(Math.max(0, -latest.feedIn.perKwh / 100) - slot.sell);
    return { label: slot.label, buyDelta: Math.abs(buy - slot.buy), sellDelta };
  }

  /** Returns the feed's state and latest prices for the status API. */
  status(): LivePriceStatus {
    const latest = this.#latest;
    if (latest === undefined) {
      return { state: this.#state };
    }
    return {
      state: this.#state,
      receivedAt: new Date(latest.receivedAt).toISOString(),
      intervalStart: latest.general.startTime,
      intervalEnd: latest.general.endTime,
      buy: latest.general.perKwh / 100,
      ...(latest.feedIn === undefined
        ? {}
        : { sell: -latest.feedIn.perKwh / 100 }),
      estimate: latest.general.estimate,
      spikeStatus: latest.general.spikeStatus,
    };
  }
}

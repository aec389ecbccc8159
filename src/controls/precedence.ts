/**
 * Which control may write which Powerwall setting when two want it at once,
 * and the one arbiter that enforces it. docs/controls.md shows the same
 * table for users.
 *
 * Two resources are arbitrated:
 * - "tariff": the time-of-use tariff together with the operation mode,
 *   backup reserve and grid-charging flag that a control changes with it.
 * - "export-rule": the export rule. Curtailment writes it, and spike and
 *   force discharge claim it only to keep curtailment from blocking export.
 *
 * Each control holds a claim while it has changed (or is about to change) a
 * resource. The writer of a resource is its highest-priority claim, the
 * earliest one on a tie. A new higher claim waits until the previous writer
 * has run `onPreempted`, which puts back what that control changed, so the
 * new writer saves the user's own settings and not another control's. When
 * the writer releases, the next claim gets `onResumed` and applies itself
 * again. The Amber sync holds no claim: it may upload a tariff only while
 * nobody claims "tariff".
 *
 * Waits only ever run from a higher priority to a lower one, so two
 * controls cannot wait on each other.
 */
import { EventEmitter } from "node:events";

import type { Logger } from "pino";

import { describeError } from "../errors.js";

/** The kinds of control that take part in arbitration. */
export type ControlKind = "force" | "spike" | "custom-schedule" | "curtailment";

/** A Powerwall setting the arbiter hands to one control at a time. */
export type Resource = "tariff" | "export-rule";

/** Priority of each kind; higher wins. The Amber sync ranks below all of them. */
export const CONTROL_PRIORITY: Readonly<Record<ControlKind, number>> = {
  force: 40,
  spike: 30,
  "custom-schedule": 20,
  curtailment: 10,
};

/** One row of the precedence table: what happens when `first` and `second` overlap. */
export interface PrecedenceRule {
  first: string;
  second: string;
  /** The control whose settings the Powerwall gets while both apply. */
  winner: string;
  /** Behaviour of the other control meanwhile and afterwards. */
  outcome: string;
}

/**
 * The precedence table. Each row has a test in
 * test/controls/precedence.test.ts; keep docs/controls.md in step.
 */
export const PRECEDENCE_TABLE: readonly PrecedenceRule[] = [
  {
    first: "force charge or discharge",
    second: "spike response",
    winner: "force",
    outcome:
      "An active spike response restores the saved tariff and mode first and waits suspended; a spike that starts during force waits. When force ends and the spike is still on, the spike response starts again.",
  },
  {
    first: "force charge",
    second: "force discharge",
    winner: "the later request",
    outcome:
      "The new direction replaces the old one and keeps the settings saved when the first one started, so the end restores the user's own.",
  },
  {
    first: "force discharge",
    second: "curtailment",
    winner: "force discharge",
    outcome:
      "Curtailment restores the user's export rule and waits; it applies again after force discharge ends if export still pays too little.",
  },
  {
    first: "force charge",
    second: "curtailment",
    winner: "both",
    outcome:
      "No conflict: force charge changes the tariff, mode and reserve, curtailment the export rule. Both stay in force.",
  },
  {
    first: "spike response",
    second: "curtailment",
    winner: "spike response",
    outcome:
      "Curtailment restores the user's export rule, so the spike tariff can export, and applies again after the spike if export still pays too little.",
  },
  {
    first: "spike response",
    second: "spike response of another region",
    winner: "the region that started first",
    outcome:
      "The other region's response waits suspended until the first one ends.",
  },
  {
    first: "force or spike response",
    second: "custom schedule applied on demand",
    winner: "force or spike response",
    outcome:
      "The override saves the custom tariff like any other and restores it at its end; the schedule then checks the Powerwall and uploads itself again if needed.",
  },
  {
    first: "custom schedule applied on demand",
    second: "Amber auto-sync and manual sync",
    winner: "custom schedule",
    outcome: "The sync skips its upload until the schedule is cleared.",
  },
  {
    first: "spike response or force",
    second: "Amber auto-sync and manual sync",
    winner: "spike response or force",
    outcome:
      "The sync skips its upload while the override is on; the next sync after the restore uploads fresh Amber prices.",
  },
  {
    first: "custom schedule as fallback",
    second: "Amber auto-sync",
    winner: "Amber auto-sync",
    outcome:
      "The fallback needs no claim: it is uploaded once when Amber prices have been missing for the fallback delay, auto-sync is on and no control claims the tariff. The next sync with Amber prices replaces it.",
  },
  {
    first: "curtailment",
    second: "Amber auto-sync",
    winner: "both",
    outcome:
      "No conflict: curtailment writes the export rule, the sync writes the tariff.",
  },
];

/** A control taking part in arbitration. */
export interface ClaimHolder {
  /** Unique id, e.g. "force" or "spike:NSW1". */
  readonly id: string;
  readonly kind: ControlKind;
  /**
   * Called when a higher claim takes `resource`. The holder puts back what
   * it changed and stops writing that resource; the new writer acts only
   * after this resolves.
   */
  onPreempted(resource: Resource, by: string): Promise<void>;
  /** Called when `resource` returns to this holder after the higher claim released it. */
  onResumed(resource: Resource): Promise<void>;
}

/** Result of {@link ControlArbiter.claim}. */
export interface ClaimResult {
  /** True when the holder is now the writer of every resource it claimed. */
  granted: boolean;
  /** Id of the claim that keeps a resource from the holder, when not granted. */
  blockedBy?: string;
}

/** Claims and writers, for status displays. */
export interface ArbiterSnapshot {
  claims: Array<{ id: string; kind: ControlKind; resources: Resource[] }>;
  writers: Partial<Record<Resource, string>>;
}

interface Claim {
  holder: ClaimHolder;
  resources: Set<Resource>;
  sequence: number;
}

const RESOURCES: readonly Resource[] = ["tariff", "export-rule"];

/** Events of {@link ControlArbiter}. */
export interface ArbiterEvents {
  change: [ArbiterSnapshot];
}

/** Decides which control may write each resource; see the file comment. */
export class ControlArbiter extends EventEmitter<ArbiterEvents> {
  readonly #claims = new Map<string, Claim>();
  readonly #logger: Logger;
  #sequence = 0;

  constructor(logger: Logger) {
    super();
    this.#logger = logger;
  }

  /**
   * Records a claim without notifying anyone. Controls call this while
   * loading their state files after a restart, before any of them acts, so
   * the writers are known before the first write.
   */
  register(holder: ClaimHolder, resources: readonly Resource[]): void {
    this.#set(holder, resources);
    this.emit("change", this.snapshot());
  }

  /**
   * Adds or updates the claim of `holder` on `resources`. Lower holders that
   * lose a resource run `onPreempted` before this resolves; holders that get
   * one back (because the claim shrank) run `onResumed`.
   */
  async claim(
    holder: ClaimHolder,
    resources: readonly Resource[],
  ): Promise<ClaimResult> {
    const before = this.#writers();
    this.#set(holder, resources);
    const after = this.#writers();
    this.emit("change", this.snapshot());
    await this.#notify(before, after, holder.id);

    for (const resource of resources) {
      const writer = this.writer(resource);
      if (writer !== holder.id) {
        return writer === undefined
          ? { granted: false }
          : { granted: false, blockedBy: writer };
      }
    }
    return { granted: true };
  }

  /** Drops the claim of `id`; the next claim of each freed resource runs `onResumed`. */
  async release(id: string): Promise<void> {
    if (!this.#claims.has(id)) {
      return;
    }
    const before = this.#writers();
    this.#claims.delete(id);
    const after = this.#writers();
    this.emit("change", this.snapshot());
    await this.#notify(before, after, undefined);
  }

  /** True when `id` holds a claim, whether or not it is the writer. */
  hasClaim(id: string): boolean {
    return this.#claims.has(id);
  }

  /** True when `id` is the writer of `resource`. */
  isWriter(id: string, resource: Resource): boolean {
    return this.writer(resource) === id;
  }

  /** Id of the writer of `resource`, or undefined when nobody claims it. */
  writer(resource: Resource): string | undefined {
    let best: Claim | undefined;
    for (const claim of this.#claims.values()) {
      if (!claim.resources.has(resource)) {
        continue;
      }
      if (best === undefined || outranks(claim, best)) {
        best = claim;
      }
    }
    return best?.holder.id;
  }

  /**
   * Returns the id of the control that holds the tariff, or undefined when
   * the Amber sync may upload. The sync engine asks this before each upload.
   */
  tariffOverride(): string | undefined {
    return this.writer("tariff");
  }

  snapshot(): ArbiterSnapshot {
    const writers: Partial<Record<Resource, string>> = {};
    for (const resource of RESOURCES) {
      const writer = this.writer(resource);
      if (writer !== undefined) {
        writers[resource] = writer;
      }
    }
    return {
      claims: [...this.#claims.values()]
        .sort((a, b) => a.sequence - b.sequence)
        .map((claim) => ({
          id: claim.holder.id,
          kind: claim.holder.kind,
          resources: [...claim.resources],
        })),
      writers,
    };
  }

  #set(holder: ClaimHolder, resources: readonly Resource[]): void {
    const existing = this.#claims.get(holder.id);
    this.#sequence += 1;
    this.#claims.set(holder.id, {
      holder,
      resources: new Set(resources),
      sequence: existing?.sequence ?? this.#sequence,
    });
  }

  #writers(): Map<Resource, Claim | undefined> {
    const writers = new Map<Resource, Claim | undefined>();
    for (const resource of RESOURCES) {
      const id = this.writer(resource);
      writers.set(
        resource,
        id === undefined ? undefined : this.#claims.get(id),
      );
    }
    return writers;
  }

  /**
   * Tells holders about changed writers. `actor` is the holder whose claim
   * caused the change; it acts on its own result and gets no callback.
   */
  async #notify(
    before: Map<Resource, Claim | undefined>,
    after: Map<Resource, Claim | undefined>,
    actor: string | undefined,
  ): Promise<void> {
    const changed = RESOURCES.filter(
      (resource) =>
        before.get(resource)?.holder.id !== after.get(resource)?.holder.id,
    );
    for (const resource of changed) {
      const previous = before.get(resource);
      const stillClaims =
        previous !== undefined &&
        this.#claims.get(previous.holder.id)?.resources.has(resource) === true;
      if (
        previous !== undefined &&
        previous.holder.id !== actor &&
        stillClaims
      ) {
        const by = after.get(resource)?.holder.id ?? "none";
        await this.#call(previous.holder, "onPreempted", () =>
          previous.holder.onPreempted(resource, by),
        );
      }
    }
    for (const resource of changed) {
      const next = after.get(resource);
      if (next !== undefined && next.holder.id !== actor) {
        await this.#call(next.holder, "onResumed", () =>
          next.holder.onResumed(resource),
        );
      }
    }
  }

  async #call(
    holder: ClaimHolder,
    what: string,
    action: () => Promise<void>,
  ): Promise<void> {
    try {
      await action();
    } catch (error) {
      this.#logger.warn(
        { control: holder.id, callback: what, error: describeError(error) },
        "Control failed to react to a change of writer; it retries on its next check",
      );
    }
  }
}

function outranks(a: Claim, b: Claim): boolean {
  const priorityA = CONTROL_PRIORITY[a.holder.kind];
  const priorityB = CONTROL_PRIORITY[b.holder.kind];
  if (priorityA !== priorityB) {
    return priorityA > priorityB;
  }
  return a.sequence < b.sequence;
}

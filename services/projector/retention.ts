import type { FlowCatalog } from "../../lib/flows/catalog.ts";
import { eventsBefore, keepsEverything, type Retention, retentionRules } from "../../lib/flows/retention.ts";
import { lastMessage } from "../../lib/nats/last-message.ts";
import { publisher } from "../../lib/nats/publish.ts";
import type { PurgeRuns } from "../../lib/protocol/messages.ts";
import { incrementalVacuum, type ReadModel } from "../../lib/read-model/database.ts";
import type { PurgeOutcome } from "../../lib/read-model/purge.ts";
import type { ServiceContext } from "../runtime/context.ts";

export type Retainer = {
  /** Told of the purge rounds a commit applied: a full one is followed by the next round, and freed pages go back. */
  purged(outcomes: PurgeOutcome[]): void;
  stop(): Promise<void>;
};

/** The flows' own retention policies, by name. */
function flowPolicies(catalog: FlowCatalog): Map<string, Retention> {
  return new Map(catalog.current().flows.flatMap((f) => (f.retention ? [[f.name, f.retention] as const] : [])));
}

/**
 * Publishes a retention tick (a `runs.purge` of what is past retention) every interval,
 * one per interval for all hosts (its id is the interval's start, and a host that finds
 * the tick in the stream does not publish it again), and the next round of any purge a
 * commit left full. The deleting itself is the projectors' (lib/read-model/purge.ts), so every read
 * model, and a rebuild, deletes the same rows.
 */
export function startRetention(ctx: ServiceContext, db: ReadModel, catalog: FlowCatalog): Retainer {
  const { config, js, jsm, subjects, log } = ctx;
  const deps = { jsm, stream: config.stream };
  const publishMessage = publisher({ js, subjects, publishTimeoutMs: config.publishTimeoutMs });
  const publish = async (message: PurgeRuns) => {
    const last = await lastMessage(deps, subjects.purge(message.purgeId));
    if (last?.message.kind === "runs.purge" && last.message.round >= message.round) return;
    await publishMessage(message);
  };
  const tick = async () => {
    const flows = flowPolicies(catalog);
    if (keepsEverything(config.retention, flows)) return;
    const now = Date.now();
    const slot = new Date(Math.floor(now / config.retentionIntervalMs) * config.retentionIntervalMs).toISOString();
    const before = eventsBefore(config.retention, now);
    await publish({
      v: 1,
      kind: "runs.purge",
      purgeId: `retention:${slot}`,
      round: 1,
      at: new Date(now).toISOString(),
      rules: retentionRules(config.retention, flows, now),
      ...(before ? { eventsBefore: before } : {}),
      limit: config.purgeRoundRuns,
      tombstoneDays: config.tombstoneDays,
    });
  };
  const failed = (what: string) => (error: unknown) =>
    log.warn(`retention: ${what} failed; tried again later`, { error });
  const first = setTimeout(() => void tick().catch(failed("the tick")), 1_000);
  const timer = setInterval(() => void tick().catch(failed("the tick")), config.retentionIntervalMs);
  let vacuuming: Promise<unknown> | undefined;
  let stopped = false;
  /** Publishes the round after a full one; NATS being away is waited out (5 tries), or the purge would stop half-way. */
  const next = async (outcome: PurgeOutcome, tries: number): Promise<void> => {
    try {
      const last = await lastMessage(deps, subjects.purge(outcome.purgeId));
      if (last?.message.kind === "runs.purge" && last.message.round === outcome.round)
        await publish({ ...last.message, round: outcome.round + 1 });
    } catch (error) {
      failed(`the next purge round (try ${tries} of 5)`)(error);
      if (tries < 5 && !stopped) setTimeout(() => void next(outcome, tries + 1), 1_000 * tries);
    }
  };
  return {
    purged(outcomes) {
      for (const outcome of outcomes) {
        if (outcome.runs + outcome.events + outcome.tombstonesDropped > 0) log.info("purge round applied", outcome);
        if (outcome.full) void next(outcome, 1);
      }
      if (outcomes.some((o) => o.runs + o.events > 0))
        vacuuming ??= incrementalVacuum(db)
          .catch(failed("giving back free pages"))
          .finally(() => (vacuuming = undefined));
    },
    async stop() {
      stopped = true;
      clearTimeout(first);
      clearInterval(timer);
      await vacuuming;
    },
  };
}

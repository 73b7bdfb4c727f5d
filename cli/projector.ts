import { join, resolve } from "node:path";
import { type Config, loadConfig, readModelPath } from "../lib/config.ts";
import { HintError } from "../lib/hint.ts";
import { type DataDirLock, LockHeldError, lockDataDir } from "../lib/lock.ts";
import { snapshotsDir } from "../lib/read-model/snapshot.ts";
import { rebuildReadModel } from "../services/projector/rebuild.ts";
import { UsageError } from "./args.ts";
import { connectForCommand } from "./nats-url.ts";
import { rebuildStart, snapshotCommand } from "./snapshot.ts";
import { vacuumCommand } from "./vacuum.ts";

/** What `flow projector` takes besides its action. */
export type ProjectorFlags = { output?: string; full?: boolean; keep?: string; fromScratch?: boolean };

/**
 * `flow projector rebuild [--output FILE] [--from-scratch]`: the read model again from
 * the newest snapshot the stream still covers and the messages after it (without one, or
 * with --from-scratch, from stream sequence 1; refused when the stream was trimmed past
 * every snapshot). Without --output it is built beside the current file and swapped in; stop this host's
 * projector and ingress first (they hold the old file open) and start them after. A swap
 * takes the projector's lock for its whole length: refused while a projector runs (it
 * would go on writing into the unlinked file), and no projector starts meanwhile.
 */
export async function projectorCommand(
  action: string | undefined,
  flags: ProjectorFlags,
  overrides: Partial<Config>,
): Promise<number> {
  const { output } = flags;
  if (action === "vacuum") return await vacuumCommand(loadConfig(process.env, overrides), flags.full === true);
  if (action === "snapshot") return await snapshotCommand(loadConfig(process.env, overrides), flags.keep);
  if (action !== "rebuild")
    throw new UsageError(
      `expected: flow projector rebuild [--output FILE] [--from-scratch], flow projector snapshot [--keep N] or flow projector vacuum [--full]${action ? ` (not "${action}")` : ""}`,
    );
  const config = loadConfig(process.env, overrides);
  const current = readModelPath(config);
  const lock = output ? undefined : projectorLock(config.dataDir, current);
  const ctx = await connectForCommand(config, "rebuild");
  try {
    const into = output ? resolve(output) : `${current}.rebuild`;
    const snapshot = await rebuildStart(ctx, flags.fromScratch === true);
    const from = snapshot
      ? `snapshot ${snapshot.file} (sequence ${snapshot.seq}) and the messages after it`
      : "stream sequence 1";
    console.error(`rebuilding the read model of stream ${config.stream} into ${into} from ${from}`);
    const result = await rebuildReadModel(ctx, into, {
      swapInto: output ? undefined : current,
      snapshot: snapshot && join(snapshotsDir(config.dataDir), snapshot.file),
      onProgress: ({ stage, applied, target, elapsedMs }) => {
        if (stage === "indexing")
          return console.error(
            `  all ${target} messages applied in ${(elapsedMs / 1000).toFixed(1)} s; building the indexes`,
          );
        const rate = elapsedMs > 0 ? Math.round((applied / elapsedMs) * 1000) : 0;
        console.error(
          `  ${applied}/${target} messages (${target ? Math.floor((applied / target) * 100) : 100}%), ${rate}/s`,
        );
      },
    });
    console.log(
      `rebuilt ${result.path} from ${from}, up to sequence ${result.applied}, in ${(result.elapsedMs / 1000).toFixed(1)} s`,
    );
    if (!output) console.log("restart this host's projector and ingress so they open the new file");
    return 0;
  } finally {
    await ctx.nc.close();
    lock?.release();
  }
}

function projectorLock(dataDir: string, current: string): DataDirLock {
  try {
    return lockDataDir(dataDir, "projector", "flow projector rebuild");
  } catch (error) {
    if (!(error instanceof LockHeldError)) throw error;
    throw new HintError(
      `${dataDir} is in use by ${error.who}: its projector writes ${current}, which a rebuild would swap out under it; stop this host's projector and ingress first (systemctl stop codex-flows-projector codex-flows-ingress, or Ctrl-C flow dev), or build elsewhere with --output FILE`,
    );
  }
}

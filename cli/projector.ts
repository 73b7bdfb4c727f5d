import { resolve } from "node:path";
import { type Config, DEFAULT_NATS_URL, loadConfig, readModelPath } from "../lib/config.ts";
import { HintError } from "../lib/hint.ts";
import { type DataDirLock, LockHeldError, lockDataDir } from "../lib/lock.ts";
import { connectContext } from "../services/context.ts";
import { rebuildReadModel } from "../services/projector/rebuild.ts";
import { vacuumCommand } from "./vacuum.ts";
import { UsageError } from "./args.ts";

/**
 * `flow projector rebuild [--output FILE]`: the read model again from stream sequence 1.
 * Without --output it is built beside the current file and swapped in; stop this host's
 * projector and ingress first (they hold the old file open) and start them after. A swap
 * takes the projector's lock for its whole length: refused while a projector runs (it
 * would go on writing into the unlinked file), and no projector starts meanwhile.
 */
export async function projectorCommand(action: string | undefined, output: string | undefined, overrides: Partial<Config>, full = false): Promise<number> {
  if (action === "vacuum") return await vacuumCommand(loadConfig(process.env, overrides), full);
  if (action !== "rebuild") throw new UsageError(`expected: flow projector rebuild [--output FILE] or flow projector vacuum [--full]${action ? ` (not "${action}")` : ""}`);
  const config = loadConfig(process.env, overrides);
  const current = readModelPath(config);
  const lock = output ? undefined : projectorLock(config.dataDir, current);
  const ctx = await connectContext(config, config.natsUrl ?? DEFAULT_NATS_URL, "rebuild");
  try {
    const into = output ? resolve(output) : `${current}.rebuild`;
    console.error(`rebuilding the read model of stream ${config.stream} into ${into}`);
    const result = await rebuildReadModel(ctx, into, {
      swapInto: output ? undefined : current,
      onProgress: ({ stage, applied, target, elapsedMs }) => {
        if (stage === "indexing") return console.error(`  all ${target} messages applied in ${(elapsedMs / 1000).toFixed(1)} s; building the indexes`);
        const rate = elapsedMs > 0 ? Math.round((applied / elapsedMs) * 1000) : 0;
        console.error(`  ${applied}/${target} messages (${target ? Math.floor((applied / target) * 100) : 100}%), ${rate}/s`);
      },
    });
    console.log(`rebuilt ${result.path} from ${result.applied} messages in ${(result.elapsedMs / 1000).toFixed(1)} s`);
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
    throw new HintError(`${dataDir} is in use by ${error.who}: its projector writes ${current}, which a rebuild would swap out under it; stop this host's projector and ingress first (systemctl stop codex-flows-projector codex-flows-ingress, or Ctrl-C flow dev), or build elsewhere with --output FILE`);
  }
}

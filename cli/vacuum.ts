import { statSync } from "node:fs";
import { type Config, readModelPath } from "../lib/config.ts";
import { fullVacuum, incrementalVacuum, openReadModel } from "../lib/read-model/database.ts";

/**
 * `flow projector vacuum [--full]`: gives the pages purges freed back to the file system
 * (a step at a time: the projector and the API go on meanwhile). `--full` rewrites the
 * whole file once, switching one made before 2026-12-07 to incremental mode: writers wait
 * for its whole length (seconds per 100 MB), so run it in a quiet hour.
 */
export async function vacuumCommand(config: Config, full: boolean): Promise<number> {
  const path = readModelPath(config);
  const before = statSync(path, { throwIfNoEntry: false })?.size;
  if (before === undefined) throw new Error(`no read model at ${path} (is CODEX_FLOW_BACKEND_DATA_DIR right?)`);
  const db = await openReadModel(path);
  try {
    if (full) {
      console.error(
        `rewriting ${path} (${before} bytes) in incremental auto-vacuum mode; writers wait until it is done`,
      );
      fullVacuum(db);
    } else {
      const { incremental, freedPages } = await incrementalVacuum(db);
      if (!incremental) {
        console.error(
          `${path} was made before incremental vacuum (auto_vacuum is off): run flow projector vacuum --full once`,
        );
        return 1;
      }
      console.error(`gave back ${freedPages} free pages`);
    }
  } finally {
    await db.destroy();
  }
  console.log(`${path}: ${before} bytes before, ${statSync(path).size} after`);
  return 0;
}

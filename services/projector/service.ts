import { readModelPath } from "../../lib/config.ts";
import { openReadModel, type ReadModel } from "../../lib/read-model/database.ts";
import type { Service, ServiceContext } from "../context.ts";
import { type Projector, startProjector } from "./projector.ts";

export type ProjectorService = Service & { projector: Projector; db: ReadModel };

/** Builds this host's SQLite read model from the stream until stopped. */
export async function startProjectorService(ctx: ServiceContext, path = readModelPath(ctx.config), options: { maxBatch?: number; scratch?: boolean } = {}): Promise<ProjectorService> {
  const { config, js, subjects, log } = ctx;
  const db = await openReadModel(path, { scratch: options.scratch });
  const projector = await startProjector({ js, db, stream: config.stream, filterSubject: subjects.all, log, maxBatch: options.maxBatch, outputRetentionBytes: config.outputRetentionBytes });
  log.info(`projecting ${config.stream} into ${path} from sequence ${projector.appliedSeq() + 1}`);
  return {
    name: "projector",
    projector,
    db,
    async stop() {
      await projector.stop();
      await db.destroy();
    },
  };
}

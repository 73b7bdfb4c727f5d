import { chmodSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Config, DEFAULT_NATS_URL } from "../lib/config.ts";
import { HintError } from "../lib/hint.ts";
import { redactUrl } from "../lib/nats/jetstream.ts";
import { connectContext, type ServiceContext } from "../services/runtime/context.ts";

/**
 * `flow dev` records the NATS URL it runs on (its embedded server's, with the password
 * generated for the run) in `<data dir>/nats-url`, mode 0600 in the 0700 data directory,
 * and removes it when it stops; a command that needs NATS (flow projector, flow stream)
 * reads it when NATS_URL is not set.
 */
export function devNatsUrlPath(dataDir: string): string {
  return join(dataDir, "nats-url");
}

/** Writes the file (whole, by a rename) and gives back its remover. */
export function recordDevNatsUrl(dataDir: string, url: string): () => void {
  const path = devNatsUrlPath(dataDir);
  const partial = `${path}.${process.pid}.partial`;
  writeFileSync(partial, `${url}\n`, { mode: 0o600 });
  chmodSync(partial, 0o600);
  renameSync(partial, path);
  return () => rmSync(path, { force: true });
}

/** Where a command finds NATS: NATS_URL, else the URL a `flow dev` on this data directory recorded, else the default. */
export function natsUrlOf(config: Pick<Config, "natsUrl" | "dataDir">): {
  url: string;
  from: "NATS_URL" | "flow dev" | "default";
} {
  if (config.natsUrl) return { url: config.natsUrl, from: "NATS_URL" };
  let recorded: string | undefined;
  try {
    recorded = readFileSync(devNatsUrlPath(config.dataDir), "utf8").trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  return recorded ? { url: recorded, from: "flow dev" } : { url: DEFAULT_NATS_URL, from: "default" };
}

/** A connection for a command, to natsUrlOf's URL; when none answers, the hint says where the URL came from and what to set. */
export async function connectForCommand(config: Config, name: string): Promise<ServiceContext> {
  const { url, from } = natsUrlOf(config);
  try {
    return await connectContext(config, url, name);
  } catch (error) {
    if (!(error instanceof HintError) || from === "NATS_URL" || !error.message.startsWith("cannot connect"))
      throw error;
    const file = devNatsUrlPath(config.dataDir);
    const where =
      from === "flow dev"
        ? `the URL in ${file}, which a flow dev on ${config.dataDir} wrote and did not remove (was it killed?)`
        : `${redactUrl(url)}, the default: NATS_URL is not set and no flow dev runs on the data directory ${config.dataDir} (one would have written ${file})`;
    throw new HintError(
      `cannot connect to NATS at ${where}. Set NATS_URL to where NATS runs (nats://USER:PASSWORD@HOST:PORT), or set CODEX_FLOW_BACKEND_DATA_DIR to the data directory of the running flow dev`,
    );
  }
}

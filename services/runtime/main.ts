import { type Config, ConfigError, DEFAULT_NATS_URL, loadConfig } from "../../lib/config.ts";
import { HintError } from "../../lib/hint.ts";
import { logger } from "../../lib/log.ts";
import { checkDurability } from "../../lib/nats/durability-check.ts";
import { redactUrl } from "../../lib/nats/jetstream.ts";
import { startIngressAlone, startsWithoutNats } from "../ingress/alone.ts";
import { forceStopAfterMs, stopOnSignal } from "./context.ts";
import type { RunningSystem, ServiceName } from "./system.ts";
import { startThreadedSystem } from "./threads.ts";

/**
 * A service process: read the configuration, connect, start, stop gracefully on
 * SIGTERM/SIGINT. A bad configuration or an unreachable NATS ends it with a message
 * that says what to fix; only the ingress alone with a spool starts without NATS.
 */
export async function runServices(
  names: readonly ServiceName[],
  overrides: Partial<Config> = {},
): Promise<RunningSystem> {
  const log = logger(names.join("+"));
  let config: Config;
  try {
    config = loadConfig(process.env, overrides);
  } catch (error) {
    if (error instanceof ConfigError) {
      log.error(error.message);
      process.exit(2);
    }
    throw error;
  }
  const natsUrl = config.natsUrl ?? DEFAULT_NATS_URL;
  const shutdown = stopOnSignal(log, forceStopAfterMs(config));
  try {
    // The ingress alone with a spool listens at once and waits for NATS (its check runs once connected).
    if (startsWithoutNats(config, names)) {
      const system = await startIngressAlone(config, natsUrl);
      shutdown.ready(system.stop);
      return system;
    }
    // Before anything accepts an event: a refusal (CODEX_FLOW_REQUIRE_DURABLE) must come first.
    await checkDurability(config, natsUrl, log);
    const system = await startThreadedSystem(config, natsUrl, names);
    shutdown.ready(system.stop);
    return system;
  } catch (error) {
    // A HintError says what to fix; anything else is unexpected and keeps its stack.
    const stack = error instanceof HintError ? {} : { stack: (error as Error).stack };
    log.error(`cannot start: ${(error as Error).message}`, { nats: redactUrl(natsUrl), ...stack });
    process.exit(1);
  }
}

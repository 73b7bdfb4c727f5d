import type { Config } from "../../lib/config.ts";
import { logger } from "../../lib/log.ts";
import { checkDurability } from "../../lib/nats/durability-check.ts";
import type { RunningSystem, ServiceName } from "../runtime/system.ts";
import { dialNats } from "./nats-link.ts";
import { serveIngress } from "./service.ts";

/**
 * Whether this start is `flow serve ingress` with a spool (CODEX_FLOW_INGRESS_SPOOL):
 * that ingress needs no NATS to start. Not with CODEX_FLOW_REQUIRE_DURABLE, whose
 * refusal must come before anything is accepted and needs NATS to decide; not beside
 * other services (they need the stream at once).
 */
export function startsWithoutNats(
  config: Pick<Config, "spoolDir" | "requireDurable">,
  names: readonly ServiceName[],
): boolean {
  return config.spoolDir !== undefined && !config.requireDurable && names.length === 1 && names[0] === "ingress";
}

/**
 * The ingress alone, with a spool: it listens at once and spools the events NATS cannot
 * take (all of them until NATS answers); it dials NATS until it answers, then provisions
 * the stream, drains the spool in order and runs the durability check (its warnings).
 */
export async function startIngressAlone(config: Config, natsUrl: string): Promise<RunningSystem> {
  const log = logger("ingress");
  const link = dialNats(config, natsUrl, "ingress");
  let ingress: Awaited<ReturnType<typeof serveIngress>>;
  try {
    ingress = await serveIngress(link);
  } catch (error) {
    await link.stop();
    throw error;
  }
  void link.ready
    .then(() => checkDurability(config, natsUrl, log))
    .catch((error) => log.warn(`the durability check failed: ${(error as Error).message}`));
  return {
    services: [ingress],
    ingressUrl: ingress.url,
    async stop() {
      await ingress.stop().catch((error) => log.error("stop failed", { error }));
      await link.stop();
    },
  };
}

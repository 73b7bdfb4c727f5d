import { type Config, loadConfig } from "../../lib/config.ts";
import { type RunningSystem, startSystem } from "../../services/runtime/system.ts";
import type { useNatsServer } from "./nats.ts";

/** Starts ingress, matcher, executor and projector with `config` on the file's server; stopped at the server's cleanup. */
export async function startTestSystem(nats: ReturnType<typeof useNatsServer>, config: Config): Promise<RunningSystem> {
  const system = await startSystem(config, nats.url, ["ingress", "matcher", "executor", "projector"]);
  nats.cleanup(() => system.stop());
  return system;
}

/** Named tokens as the config reads them from CODEX_FLOW_BACKEND_TOKENS. */
export function namedTokens(
  named: { name: string; token: string; role: string; flows?: string[] }[],
  cwd: string,
): Config["tokens"] {
  return loadConfig({ CODEX_FLOW_BACKEND_TOKENS: JSON.stringify(named) }, { cwd }).tokens;
}

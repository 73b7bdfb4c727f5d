/**
 * The startup durability check of `flow serve` and `flow dev`: reads each nats-server's
 * fsync setting (monitoring /varz: JetStream's account info does not carry it) and the
 * stream's replicas, and warns about each setting weaker than docs/durability.md
 * documents, or refuses to start (CODEX_FLOW_REQUIRE_DURABLE=1, --require-durable).
 */
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Config } from "../config.ts";
import { HintError } from "../hint.ts";
import type { Logger } from "../log.ts";
import {
  type DurabilityFacts,
  describeFinding,
  durabilityFindings,
  type Finding,
  type ServerFacts,
  supportsSyncAlways,
} from "./durability.ts";
import { connectNats, isApiError } from "./jetstream.ts";

/** How long one /varz may take: the check must not hold a start up for long. */
const VARZ_TIMEOUT_MS = 3_000;
/** JetStream's "stream not found". */
const STREAM_NOT_FOUND = 10059;

type Varz = {
  server_name?: string;
  version?: string;
  jetstream?: { config?: { sync_always?: boolean; sync_interval?: number } };
};

/** One monitor URL's /varz as ServerFacts, or why it could not be read. */
async function readVarz(monitorUrl: string): Promise<ServerFacts | string> {
  const url = `${monitorUrl.replace(/\/+$/, "")}/varz`;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(VARZ_TIMEOUT_MS) });
    if (!response.ok) return `${url} answered ${response.status}`;
    const varz = (await response.json()) as Varz;
    if (!varz.jetstream?.config) return `${url} shows no JetStream configuration (is this the JetStream server?)`;
    const { sync_always: syncAlways, sync_interval: syncIntervalNs } = varz.jetstream.config;
    return {
      name: varz.server_name ?? monitorUrl,
      version: varz.version ?? "unknown",
      syncAlways: syncAlways === true,
      ...(syncIntervalNs === undefined ? {} : { syncIntervalNs }),
    };
  } catch (error) {
    return `${url} did not answer (${(error as Error).message})`;
  }
}

/**
 * What the check needs to know, read from a live connection: each monitored server's
 * /varz; without a monitor URL, the connected server's INFO (its version tells a server
 * that cannot fsync before acknowledging, not whether a newer one does).
 */
export async function readDurabilityFacts(
  nc: NatsConnection,
  config: Pick<Config, "stream" | "replicas" | "natsMonitorUrls">,
): Promise<DurabilityFacts> {
  const info = nc.info;
  const servers: ServerFacts[] = [];
  const unchecked: string[] = [];
  for (const url of config.natsMonitorUrls) {
    const read = await readVarz(url);
    if (typeof read === "string") unchecked.push(read);
    else servers.push(read);
  }
  // Without any /varz read, the connected server's version still tells a 2.9.x.
  if (servers.length === 0 && info && supportsSyncAlways(info.version) === false)
    servers.push({ name: info.server_name, version: info.version });
  else if (config.natsMonitorUrls.length === 0 && info) {
    unchecked.push(
      `no monitor URL to read nats-server ${info.version}'s sync_interval from (set CODEX_FLOW_NATS_MONITOR_URL to its http: address)`,
    );
  }
  const jsm = await jetstreamManager(nc);
  const stream = await jsm.streams.info(config.stream).then(
    (found) => ({
      name: config.stream,
      exists: true,
      replicas: found.config.num_replicas,
      storage: String(found.config.storage),
      persistMode: (found.config as { persist_mode?: string }).persist_mode,
    }),
    (error: unknown) => {
      if (!isApiError(error, STREAM_NOT_FOUND)) throw error;
      // The services create it with the configured replicas on file storage (lib/nats/jetstream.ts).
      return { name: config.stream, exists: false, replicas: config.replicas, storage: "file" };
    },
  );
  return {
    servers,
    unchecked,
    ...(info?.cluster ? { cluster: info.cluster } : {}),
    stream,
    configuredReplicas: config.replicas,
  };
}

/**
 * Runs the check before the services start: each finding is one warning, or, with
 * `requireDurable`, a refusal (a HintError listing them all).
 */
export async function checkDurability(
  config: Pick<Config, "stream" | "replicas" | "natsMonitorUrls" | "requireDurable">,
  natsUrl: string,
  log: Logger,
): Promise<Finding[]> {
  // Its own short connection: its status lines (connect, close) would only be noise.
  const nc = await connectNats(natsUrl, "codex-flows durability check", { ...log, info: () => undefined });
  let findings: Finding[];
  try {
    findings = durabilityFindings(await readDurabilityFacts(nc, config));
  } finally {
    await nc.close();
  }
  if (findings.length > 0 && config.requireDurable) {
    throw new HintError(
      `refusing to start (CODEX_FLOW_REQUIRE_DURABLE=1 or --require-durable):\n${findings.map((f) => `  ${describeFinding(f)}`).join("\n")}`,
    );
  }
  for (const finding of findings) log.warn(describeFinding(finding));
  return findings;
}

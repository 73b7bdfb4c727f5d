import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { type Config, loadConfig } from "../lib/config.ts";
import { discoverFlows, FLOW_DIRS } from "../lib/flows/discovery.ts";
import { lockDataDir } from "../lib/lock.ts";
import { logger } from "../lib/log.ts";
import { supportsSyncAlways } from "../lib/nats/durability.ts";
import { checkDurability } from "../lib/nats/durability-check.ts";
import { devNatsServerBinary, natsServerVersion, startNatsServer } from "../lib/nats/nats-server.ts";
import { hideFromSteps } from "../lib/undumpable.ts";
import { forceStopAfterMs, stopOnSignal } from "../services/runtime/context.ts";
import { runServices } from "../services/runtime/main.ts";
import { SERVICE_NAMES, type ServiceName } from "../services/runtime/system.ts";
import { startThreadedSystem } from "../services/runtime/threads.ts";
import { UsageError } from "./args.ts";
import { postEvent } from "./client.ts";
import { devNatsUrlPath, recordDevNatsUrl } from "./nats-url.ts";

/** `flow serve <service|all>`: one service (or all four) as this process, against NATS_URL. */
export async function serve(what: string | undefined, overrides: Partial<Config>): Promise<void> {
  hideFromSteps(logger("flows"));
  if (!what) throw new UsageError(`expected a service: ${[...SERVICE_NAMES, "all"].join(", ")}`);
  const names = what === "all" ? SERVICE_NAMES : SERVICE_NAMES.filter((name) => name === what);
  if (names.length === 0)
    throw new UsageError(`unknown service "${what}": expected one of ${[...SERVICE_NAMES, "all"].join(", ")}`);
  if (names.includes("matcher")) warnWithoutFlows(loadConfig(process.env, overrides).cwd);
  await runServices(names as readonly ServiceName[], overrides);
}

/** `flow dev`'s own nats-server: a soft heap limit, so the blocks it cached while writing a burst go back to the system (docs/performance.md). */
const DEV_NATS_MEMORY_MIB = 48;
/** `flow dev` runs on one thread unless CODEX_FLOW_THREADS=on: a second thread costs about 26 MB idle and, on 2 cores, buys latency, not throughput (docs/performance.md). */
const DEV_THREADS = false;

/** A working directory without any flow is almost always a wrong --cwd: say so before events start matching nothing. */
function warnWithoutFlows(cwd: string): void {
  const { flows, problems } = discoverFlows(cwd);
  if (flows.length === 0 && problems.length === 0) {
    logger("flows").warn(
      `no flows under ${cwd} (looked in ${FLOW_DIRS.join(" and ")}): every event will match nothing; pass --cwd DIR or set CODEX_FLOW_BACKEND_CWD`,
    );
  }
}

/**
 * `flow dev`'s own nats-server: a current one (docs/durability.md) fsyncing before every
 * acknowledgement when it can be had; else Debian's 2.9.10, and the durability check
 * says once what that can cost. Its monitor (/varz) is on, for that check.
 */
async function startDevNats(config: Config, auth: { user: string; password: string }) {
  const binary = devNatsServerBinary();
  const syncAlways = supportsSyncAlways(natsServerVersion(binary)) === true;
  return await startNatsServer({
    binary,
    storeDir: join(config.dataDir, "nats"),
    auth,
    memoryLimitMiB: DEV_NATS_MEMORY_MIB,
    syncAlways,
    monitor: true,
  });
}

/**
 * `flow dev`: the embedded default. Its own nats-server (store under the data
 * directory) unless NATS_URL is set, all four services in this process, then the URL
 * and a ready-to-paste curl line. With `--example` it also fires the example flow.
 */
export async function dev(overrides: Partial<Config>, fireExample: boolean): Promise<void> {
  hideFromSteps(logger("flows"));
  const log = logger("dev");
  const config = loadConfig(process.env, overrides);
  warnWithoutFlows(config.cwd);
  const shutdown = stopOnSignal(log, forceStopAfterMs(config));
  privateDataDir(config.dataDir, log);
  const lock = lockDataDir(config.dataDir, "dev", "flow dev");
  // Loopback only, and a password generated for this run: other local users cannot publish around the HMAC.
  const auth = { user: "codex-flows", password: randomBytes(18).toString("base64url") };
  const nats = config.natsUrl ? undefined : await startDevNats(config, auth);
  const natsUrl = config.natsUrl ?? nats!.url;
  // The disk guard watches the embedded server's store too: it is on this host.
  const served = { ...config, natsStoreDir: config.natsStoreDir ?? nats?.storeDir };
  const system = await checkDurability(nats ? { ...config, natsMonitorUrls: [nats.monitorUrl!] } : config, natsUrl, log)
    .then(() => startThreadedSystem(served, natsUrl, SERVICE_NAMES, DEV_THREADS))
    .catch(async (error) => {
      await nats?.stop();
      lock.release();
      throw error;
    });
  // Beside the data it serves, for the commands that need NATS (flow projector, flow stream): 0600, removed on stop.
  const forgetUrl = recordDevNatsUrl(config.dataDir, natsUrl);
  shutdown.ready(async () => {
    forgetUrl();
    await system.stop();
    // Last: the services hand back what they hold (released records) through it.
    await nats?.stop();
    lock.release();
  });
  const url = system.ingressUrl!;
  // ?wait=true answers run data: with a token set, the line sends it too.
  const read = config.token ? ` -H "authorization: Bearer $CODEX_FLOW_BACKEND_TOKEN"` : "";
  const sign = config.secret
    ? ` -H "x-flow-signature-256: sha256=$(printf '%s' "$BODY" | openssl dgst -sha256 -hmac "$CODEX_FLOW_BACKEND_SECRET" | cut -d' ' -f2)"`
    : "";
  console.log(`
codex-flows is up
  API      ${url}   (GET /healthz, POST /events, GET /runs?eventId=...)
  open     ${url}/ui/   in a browser: the dashboard
  NATS     ${natsUrl}   stream ${config.stream}, subjects ${config.subjectPrefix}.>${nats ? ` (embedded, store ${nats.storeDir}, monitor ${nats.monitorUrl})` : ""}
  flows    ${config.cwd}
  data     ${config.dataDir}   (the NATS URL in ${devNatsUrlPath(config.dataDir)} for flow projector and flow stream)

Fire an event:
  BODY='{"id":"hello-'$(date +%s)'","type":"example.greet","payload":{"name":"you"}}'
  curl -s -X POST "${url}/events?wait=true" -H 'content-type: application/json'${read}${sign} -d "$BODY"
`);
  if (fireExample) {
    const event = {
      id: `example-${Date.now()}`,
      type: "example.greet",
      source: "flow dev --example",
      payload: { name: "world" },
    };
    const { status, body } = await postEvent({ url, secret: config.secret, token: config.token }, event, "true");
    console.log(`fired the example flow: POST /events?wait=true -> ${status}`);
    console.log(JSON.stringify(summarise(body), null, 2));
  }
  console.log("Ctrl-C stops everything.");
}

/**
 * `flow dev`'s data directory holds every payload, result and the NATS store: 0700, so
 * other local users cannot read it. A new one is made so; an existing one this user owns
 * is narrowed to 0700 (said in the log), one owned by someone else only warned about.
 */
function privateDataDir(dir: string, log: ReturnType<typeof logger>): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { mode, uid } = statSync(dir);
  if ((mode & 0o077) === 0) return;
  if (uid !== process.getuid?.()) {
    log.warn(
      `the data directory ${dir} is mode ${(mode & 0o777).toString(8)} and owned by another user: other local users may read its payloads and results`,
    );
    return;
  }
  chmodSync(dir, 0o700);
  log.info(
    `narrowed the data directory ${dir} from mode ${(mode & 0o777).toString(8)} to 700: it holds every payload and result`,
  );
}

function summarise(body: unknown): unknown {
  const answer = body as { runs?: { id: string; status: string; result: unknown; stdout?: string }[] };
  if (!answer.runs) return body;
  return { ...answer, runs: answer.runs.map(({ id, status, result, stdout }) => ({ id, status, result, stdout })) };
}

import { expect, setDefaultTimeout, test } from "bun:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { logger } from "../../lib/log.ts";
import { connectNats } from "../../lib/nats/jetstream.ts";
import { isRunning } from "../fixtures/request.ts";
import { writeFlows } from "../support/flows.ts";
import { json } from "../support/http.ts";
import { eventually } from "../support/nats.ts";
import { serviceEnv, useProcesses } from "../support/processes.ts";

setDefaultTimeout(90_000);
const cli = useProcesses();

/** The pid of the nats-server listening on `port`, from /proc (its command line names the port). */
async function natsPid(port: string): Promise<number> {
  const found = Bun.spawn(["pgrep", "-f", `nats-server .*-p ${port} `], { stdout: "pipe" });
  const out = await new Response(found.stdout).text();
  await found.exited;
  const pids = out.split("\n").filter(Boolean).map(Number);
  expect(pids).toHaveLength(1);
  return pids[0]!;
}

test("flow dev: one per data directory, an embedded NATS that needs the printed credentials, Ctrl-C releases a running step, and kill -9 leaves no nats-server behind", async () => {
  const cwd = writeFlows({
    slow: [{ name: "nap", type: "slow.nap", timeoutMs: 120_000, source: "await Bun.sleep(60_000);" }],
  });
  const env = await serviceEnv(undefined, {
    CODEX_FLOW_STREAM: undefined,
    CODEX_FLOW_SUBJECT_PREFIX: undefined,
    CODEX_FLOW_BACKEND_CWD: cwd,
    CODEX_FLOW_SHUTDOWN_GRACE_MS: "1000",
  });
  const first = cli.start(["dev"], { env });
  await first.waitForLine("Ctrl-C stops everything.", 30_000);
  const url = first.stdout.join("\n").match(/API +(http:\/\/\S+)/)![1]!;
  const natsUrl = first.stdout.join("\n").match(/NATS +(nats:\/\/\S+)/)![1]!;
  const port = new URL(natsUrl).port;
  const server = await natsPid(port);
  cli.cleanup(() => isRunning(server) && process.kill(server, "SIGKILL"));

  // A second flow dev on the same data directory says who holds it.
  const second = await cli.run(["dev"], { env: { ...env, CODEX_FLOW_BACKEND_PORT: "0" } });
  expect(second.code).toBe(1);
  expect(second.stderr).toContain(`is in use by pid ${first.pid}`);

  // The printed URL works (it carries the generated user and password); without them NATS refuses.
  expect(new URL(natsUrl).hostname).toBe("127.0.0.1");
  const nc = await connectNats(natsUrl, "test", logger("test"));
  expect((await (await jetstreamManager(nc)).streams.info("FLOWS")).config.name).toBe("FLOWS");
  await nc.close();
  await expect(connectNats(`nats://127.0.0.1:${port}`, "test", logger("test"))).rejects.toThrow(
    "Authorization Violation",
  );

  // Ctrl-C with a step running: it stops within the grace time and hands the step back.
  const { runIds } = await json(
    fetch(`${url}/events?wait=matched`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: "nap-1", type: "slow.nap" }),
    }),
  );
  await eventually(async () => (await json(fetch(`${url}/runs/${runIds[0]}`))).run.status === "running");
  const stopping = Date.now();
  first.signal("SIGINT");
  expect(await first.exit(20_000)).toBe(0);
  expect(Date.now() - stopping).toBeLessThan(10_000);
  expect(isRunning(server)).toBe(false);

  const again = cli.start(["dev"], { env });
  await again.waitForLine("Ctrl-C stops everything.", 30_000);
  const { run } = await json(fetch(`${url}/runs/${runIds[0]}`));
  expect(run.attempts[0].status).toBe("released");
  const restarted = await natsPid(new URL(again.stdout.join("\n").match(/NATS +(nats:\/\/\S+)/)![1]!).port);
  cli.cleanup(() => isRunning(restarted) && process.kill(restarted, "SIGKILL"));
  again.signal("SIGKILL");
  await again.exit(5_000).catch(() => undefined);
  await eventually(() => !isRunning(restarted), 10_000, "the embedded nats-server to die with its parent");
});

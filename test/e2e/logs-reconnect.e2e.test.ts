import { expect, setDefaultTimeout, test } from "bun:test";
import { freePort } from "../../lib/nats/nats-server.ts";
import { startSystem } from "../../services/runtime/system.ts";
import { writeFlows } from "../support/flows.ts";
import { json } from "../support/http.ts";
import { eventually, testConfig, useNatsServer } from "../support/nats.ts";
import { ingressUrlOf, useProcesses } from "../support/processes.ts";

setDefaultTimeout(60_000);
const nats = useNatsServer();
const cli = useProcesses();

test("flow logs -f outlives its ingress restarting: it reconnects from the last line it saw, with nothing repeated or lost", async () => {
  const cwd = writeFlows({
    talk: [
      {
        name: "count",
        type: "talk.count",
        source:
          'for (let i = 1; i <= 8; i++) { console.log("tick " + i); await Bun.sleep(400); }\nconsole.log("FLOW_RESULT {\\"status\\":\\"completed\\"}");',
      },
    ],
  });
  const config = testConfig({ cwd });
  // Matcher, executor and projector here; the ingress, which the CLI talks to, as its own process on a fixed port.
  const rest = await startSystem(config, nats.url, ["matcher", "executor", "projector"]);
  nats.cleanup(() => rest.stop());
  const env = {
    NATS_URL: nats.url,
    CODEX_FLOW_STREAM: config.stream,
    CODEX_FLOW_SUBJECT_PREFIX: config.subjectPrefix,
    CODEX_FLOW_BACKEND_DATA_DIR: config.dataDir,
    CODEX_FLOW_BACKEND_PORT: String(await freePort()),
    CODEX_FLOW_BACKEND_CWD: cwd,
  };
  let ingress = cli.start(["serve", "ingress"], { env });
  const url = await ingressUrlOf(ingress);
  const { runIds } = await json(
    fetch(`${url}/events?wait=matched`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: "count-1", type: "talk.count" }),
    }),
  );

  const follow = cli.start(["logs", runIds[0], "-f", "--url", url], { env: {} });
  await follow.waitForLine("tick 2", 15_000);
  ingress.signal("SIGKILL");
  await ingress.exit(5_000);
  await follow.waitForLine("connection lost", 10_000);
  ingress = cli.start(["serve", "ingress"], { env });
  await ingressUrlOf(ingress);

  expect(await follow.exit(30_000)).toBe(0);
  expect(follow.stdout.filter((line) => line.startsWith("tick"))).toEqual([
    "tick 1",
    "tick 2",
    "tick 3",
    "tick 4",
    "tick 5",
    "tick 6",
    "tick 7",
    "tick 8",
  ]);
  expect(follow.stderr.join("\n")).toContain(`[run ${runIds[0]} completed]`);
  await eventually(async () => (await json(fetch(`${url}/runs/${runIds[0]}`))).run.status === "completed");
});

import { expect, setDefaultTimeout, test } from "bun:test";
import { writeFlows } from "../support/flows.ts";
import { json } from "../support/http.ts";
import { useNatsServer } from "../support/nats.ts";
import { ingressUrlOf, serviceEnv, useProcesses } from "../support/processes.ts";

setDefaultTimeout(60_000);
const nats = useNatsServer();
const cli = useProcesses();

test("given a running step, when flow logs RUN -f follows it, then its lines appear as written and the command ends with the run; flow runs lists it", async () => {
  const cwd = writeFlows({
    talk: [
      {
        name: "count",
        type: "talk.count",
        source:
          'for (let i = 1; i <= 3; i++) { console.log("tick " + i); await Bun.sleep(300); }\nconsole.error("done counting");\nconsole.log("FLOW_RESULT {\\"status\\":\\"completed\\"}");',
      },
    ],
  });
  const env = await serviceEnv(nats.url, { CODEX_FLOW_BACKEND_CWD: cwd });
  const url = await ingressUrlOf(cli.start(["serve", "all"], { env }));
  const { runIds } = await json(
    fetch(`${url}/events?wait=matched`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: "count-1", type: "talk.count" }),
    }),
  );

  const follow = cli.start(["logs", runIds[0], "-f", "--url", url], { env });
  await follow.waitForLine("tick 1", 10_000);
  // Live: the first line is out while the step still runs.
  const { run } = await json(fetch(`${url}/runs/${runIds[0]}`));
  expect(run.status).toBe("running");
  expect(await follow.exit(15_000)).toBe(0);
  expect(follow.stdout.filter((l) => l.startsWith("tick"))).toEqual(["tick 1", "tick 2", "tick 3"]);
  expect(follow.stderr.join("\n")).toContain("done counting");
  expect(follow.stderr.join("\n")).toContain(`[run ${runIds[0]} completed]`);

  const again = await cli.run(["logs", runIds[0], "--url", url], { env });
  expect(again.code).toBe(0);
  expect(again.stdout).toContain("tick 3");
  const newest = await cli.run(["runs", "--url", url], { env });
  expect(newest.code).toBe(0);
  expect(newest.stdout).toContain(`${runIds[0]}  talk/count  completed`);
  const ofEvent = await cli.run(["runs", "--event", "count-1", "--json", "--url", url], { env });
  expect(ofEvent.stdout.split("\n").map((line) => JSON.parse(line).id)).toEqual(runIds);
  const missing = await cli.run(["logs", "run-nope", "--url", url], { env });
  expect(missing.code).toBe(1);
  expect(missing.stderr).toContain("404");
});

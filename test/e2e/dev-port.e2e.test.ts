import { expect, setDefaultTimeout, test } from "bun:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { logger } from "../../lib/log.ts";
import { connectNats } from "../../lib/nats/jetstream.ts";
import { echoStep, writeFlows } from "../support/flows.ts";
import { useNatsServer } from "../support/nats.ts";
import { serviceEnv, useProcesses } from "../support/processes.ts";
import { tempDir } from "../support/temp.ts";

setDefaultTimeout(60_000);
const nats = useNatsServer();
const cli = useProcesses();

test("given a flow dev on a port, when a second flow dev sharing its NATS starts on that port, then it (or a flow serve all) exits naming the port before any consumer of its own exists", async () => {
  const env = await serviceEnv(nats.url, {
    CODEX_FLOW_BACKEND_CWD: writeFlows({ a: [{ name: "one", type: "t.one", source: echoStep() }] }),
    CODEX_FLOW_HOST_ID: "first",
  });
  const first = cli.start(["dev"], { env });
  await first.waitForLine("Ctrl-C stops everything.", 30_000);
  const port = env.CODEX_FLOW_BACKEND_PORT!;

  // Another checkout (its own flows and data directory) on the same stream and port.
  const secondEnv = {
    ...env,
    CODEX_FLOW_BACKEND_CWD: writeFlows({ b: [{ name: "two", type: "t.one", source: echoStep() }] }),
    CODEX_FLOW_BACKEND_DATA_DIR: tempDir("dev-port-"),
    CODEX_FLOW_HOST_ID: "second",
  };
  const second = await cli.run(["dev"], { env: secondEnv, timeoutMs: 30_000 });
  expect(second.code).toBe(1);
  expect(second.stderr).toContain(`port ${port}`);
  // flow serve all starts its consumers on a worker thread: the same, before the worker starts.
  const third = await cli.run(["serve", "all"], {
    env: { ...secondEnv, CODEX_FLOW_HOST_ID: "third" },
    timeoutMs: 30_000,
  });
  expect(third.code).toBe(1);
  expect(third.stderr).toContain(`port ${port}`);

  // Its executor would have served its own host's queue: no such consumer was ever made.
  const nc = await connectNats(nats.url, "test", logger("test"));
  try {
    const jsm = await jetstreamManager(nc);
    const names: string[] = [];
    for await (const info of jsm.consumers.list(env.CODEX_FLOW_STREAM!)) names.push(info.name);
    expect(names).toContain("executor-first");
    expect(names).not.toContain("executor-second");
    expect(names).not.toContain("executor-third");
  } finally {
    await nc.close();
  }
  first.signal("SIGTERM");
  expect(await first.exit(30_000)).toBe(0);
});

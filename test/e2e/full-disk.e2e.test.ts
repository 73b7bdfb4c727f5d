import { expect, setDefaultTimeout, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { logger } from "../../lib/log.ts";
import { connectNats } from "../../lib/nats/jetstream.ts";
import { lastMessage } from "../../lib/nats/last-message.ts";
import { runIdFor } from "../../lib/protocol/ids.ts";
import { subjects } from "../../lib/protocol/subjects.ts";
import { canMount, fill, smallDisk } from "../support/disk.ts";
import { echoStep, writeFlows } from "../support/flows.ts";
import { json } from "../support/http.ts";
import { eventually, useNatsServer } from "../support/nats.ts";
import { ingressUrlOf, serviceEnv, useProcesses } from "../support/processes.ts";

setDefaultTimeout(90_000);
// The disk guard off: this is the last line of defence, a disk that fills up before the guard sees it (test/e2e/disk-guard.e2e.test.ts has the guard).
const GUARD_OFF = { CODEX_FLOW_DISK_MIN_FREE_BYTES: "0" };
const nats = useNatsServer();
const cli = useProcesses();

test.skipIf(!canMount)(
  "given a full disk under the data directory, then a run waits (retried, reported as ENOSPC naming the file, never given up as lost), the projector backs off naming the cause, and once space returns the run completes (needs root for a tmpfs)",
  async () => {
    const dataDir = smallDisk("full-disk-", "8m", cli.cleanup);
    const cwd = writeFlows({ disk: [{ name: "echo", type: "disk.write", source: echoStep() }] });
    const env = await serviceEnv(nats.url, {
      CODEX_FLOW_BACKEND_CWD: cwd,
      CODEX_FLOW_BACKEND_DATA_DIR: dataDir,
      ...GUARD_OFF,
    });
    const all = cli.start(["serve", "all"], { env });
    const url = await ingressUrlOf(all);
    const post = (id: string) =>
      fetch(`${url}/events?wait=none`, {
        method: "POST",
        body: JSON.stringify({ id, type: "disk.write", payload: {} }),
        headers: { "content-type": "application/json" },
      });
    expect((await post("before")).status).toBe(202);
    const before = runIdFor("before", 0, "disk", "echo");
    await eventually(
      async () => (await json(fetch(`${url}/runs/${before}`))).run?.status === "completed",
      30_000,
      "the first run to complete",
    );

    const filler = join(dataDir, "filler");
    fill(filler);
    const linesBefore = all.stderr.length;
    expect((await post("during")).status).toBe(202);
    const runId = runIdFor("during", 0, "disk", "echo");

    // The attempt's record, read from the stream (the read model is on the full disk too).
    const nc = await connectNats(nats.url, "test", logger("test"));
    try {
      const deps = { jsm: await jetstreamManager(nc), stream: env.CODEX_FLOW_STREAM! };
      const subject = subjects(env.CODEX_FLOW_SUBJECT_PREFIX!).run(runId, "finished");
      const first = await eventually(
        async () => (await lastMessage(deps, subject))?.message,
        30_000,
        "the attempt's record",
      );
      if (first.kind !== "run.finished") throw new Error(`not a run.finished: ${first.kind}`);
      expect(first.error).toContain("ENOSPC");
      expect(first.error).toContain(join(dataDir, "executor"));
      expect(first.retryInMs).toBeGreaterThan(0);
      expect(first.failures ?? 0).toBe(0);

      // While the disk stays full, a few seconds: never "gave up", and the projector says why, a bounded number of times.
      const watchFrom = Date.now();
      await eventually(() => Date.now() - watchFrom > 6_000, 10_000, "six seconds");
      const latest = (await lastMessage(deps, subject))?.message;
      expect(latest?.kind === "run.finished" && latest.error).not.toContain("gave up");
      const during = all.stderr.slice(linesBefore);
      expect(during.filter((line) => line.includes("cannot rollback"))).toEqual([]);
      const commitFailures = during.filter((line) => line.includes("projector commit failed"));
      expect(commitFailures.length).toBeGreaterThan(0);
      expect(commitFailures.length).toBeLessThanOrEqual(8);
      expect(commitFailures[0]).toMatch(/full|ENOSPC/i);
      expect(commitFailures[0]).toContain(join(dataDir, "read-model.sqlite"));

      rmSync(filler);
      await eventually(
        async () => (await json(fetch(`${url}/runs/${runId}`))).run?.status === "completed",
        60_000,
        "the run to complete once space returned",
      );
      const { run } = await json(fetch(`${url}/runs/${runId}`));
      expect(run.attempts.at(-1).status).toBe("completed");
      expect(
        run.attempts
          .slice(0, -1)
          .map((a: { error: string }) => a.error)
          .filter((e: string) => !e.includes("ENOSPC")),
      ).toEqual([]);
    } finally {
      await nc.close();
    }
    all.signal("SIGTERM");
    expect(await all.exit(30_000)).toBe(0);
  },
);

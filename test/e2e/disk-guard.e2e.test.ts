import { expect, setDefaultTimeout, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import { logger } from "../../lib/log.ts";
import { connectNats } from "../../lib/nats/jetstream.ts";
import { msgIds, runIdFor } from "../../lib/protocol/ids.ts";
import { encodeMessage } from "../../lib/protocol/messages.ts";
import { subjects } from "../../lib/protocol/subjects.ts";
import { canMount, fill, freeBytes, smallDisk } from "../support/disk.ts";
import { echoStep, writeFlows } from "../support/flows.ts";
import { json } from "../support/http.ts";
import { accepted, anEvent } from "../support/messages.ts";
import { eventually, useNatsServer } from "../support/nats.ts";
import { ingressUrlOf, serviceEnv, useProcesses } from "../support/processes.ts";

setDefaultTimeout(90_000);
const nats = useNatsServer();
const cli = useProcesses();
const MiB = 1024 * 1024;

/** An event another host's ingress accepted: published straight to the stream. */
async function acceptElsewhere(env: Record<string, string | undefined>, id: string): Promise<void> {
  const nc = await connectNats(nats.url, "test", logger("test"));
  try {
    const event = anEvent({ id, type: "disk.write", payload: {} });
    await jetstream(nc).publish(
      subjects(env.CODEX_FLOW_SUBJECT_PREFIX!).event(event.type),
      encodeMessage(accepted(event)),
      { msgID: msgIds.event(event.id, 0) },
    );
  } finally {
    await nc.close();
  }
}

test.skipIf(!canMount)(
  "given the read model's disk below the guard's threshold, then posts answer 507 naming the directory, /healthz and /metrics show it, the projector pauses without failing, and once space returns everything goes on by itself (needs root for a tmpfs)",
  async () => {
    const dataDir = smallDisk("disk-guard-", "16m", cli.cleanup);
    const cwd = writeFlows({ disk: [{ name: "echo", type: "disk.write", source: echoStep() }] });
    // 4 MiB of the 16: the smaller of the two thresholds.
    const guard = { CODEX_FLOW_DISK_MIN_FREE_BYTES: String(4 * MiB), CODEX_FLOW_DISK_MIN_FREE_PERCENT: "100" };
    const env = await serviceEnv(nats.url, {
      CODEX_FLOW_BACKEND_CWD: cwd,
      CODEX_FLOW_BACKEND_DATA_DIR: dataDir,
      ...guard,
    });
    const all = cli.start(["serve", "all"], { env });
    const url = await ingressUrlOf(all);
    const post = (id: string) =>
      fetch(`${url}/events?wait=none`, {
        method: "POST",
        body: JSON.stringify({ id, type: "disk.write", payload: {} }),
        headers: { "content-type": "application/json" },
      });
    const runOf = async (eventId: string) =>
      (await json(fetch(`${url}/runs/${runIdFor(eventId, 0, "disk", "echo")}`))).run;
    const completed = (eventId: string) =>
      eventually(async () => (await runOf(eventId))?.status === "completed", 30_000, `${eventId}'s run to complete`);

    expect((await post("before")).status).toBe(202);
    await completed("before");
    expect((await json(fetch(`${url}/healthz`))).disk).toMatchObject({
      low: false,
      dirs: [{ role: "read model", dir: dataDir, thresholdBytes: 4 * MiB, low: false }],
    });

    // Below the threshold, with room left: the guard acts before anything fails.
    const filler = join(dataDir, "filler");
    fill(filler, 2 * MiB);
    expect(freeBytes(dataDir)).toBeLessThan(4 * MiB);
    const health = await eventually(
      async () => {
        const response = await fetch(`${url}/healthz`);
        return response.status === 503 && (await json(response));
      },
      10_000,
      "/healthz to say the disk is low",
    );
    expect(health.ok).toBe(false);
    expect(health.disk.low).toBe(true);
    expect(health.disk.dirs[0].freeBytes).toBeLessThan(4 * MiB);

    const refused = await post("during");
    expect(refused.status).toBe(507);
    expect(refused.headers.get("retry-after")).toBe("30");
    const { error } = await json(refused);
    expect(error).toContain(`free under ${dataDir}, below the threshold of 4.0 MiB`);
    expect(error).toContain("nothing was accepted");
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain(`codex_flows_disk_low{dir="${dataDir}",role="read model"} 1`);
    expect(metrics).toContain('codex_flows_events_rejected_total{status="507"} 1');
    expect(metrics).toMatch(new RegExp(`codex_flows_disk_free_bytes\\{dir="${dataDir}",role="read model"\\} \\d+`));
    // An event accepted before is still answered as a duplicate: nothing to publish.
    const again = await post("before");
    expect([again.status, (await json(again)).status]).toEqual([202, "duplicate"]);
    // Reads go on, and what was accepted before is intact.
    expect((await runOf("before")).status).toBe("completed");

    // Another host's ingress (its disk fine) accepts an event: this projector pauses instead of writing, and fails nothing.
    await acceptElsewhere(env, "elsewhere");
    await all.waitForLine("projector paused: the read model's disk is low", 10_000);
    expect((await fetch(`${url}/events/elsewhere`)).status).toBe(404);

    rmSync(filler);
    await all.waitForLine("projector resumed", 10_000);
    await eventually(async () => (await fetch(`${url}/healthz`)).status === 200, 10_000, "/healthz to be ok again");
    expect((await post("after")).status).toBe(202);
    await completed("elsewhere");
    await completed("after");
    expect(all.stderr.filter((line) => /projector commit failed|ENOSPC|cannot rollback/.test(line))).toEqual([]);
    expect(all.stderr.filter((line) => line.includes("projector paused")).length).toBeLessThanOrEqual(3);
    expect((await runOf("before")).status).toBe("completed");

    all.signal("SIGTERM");
    expect(await all.exit(30_000)).toBe(0);
  },
);

test.skipIf(!canMount)(
  "given CODEX_FLOW_NATS_STORE_DIR on a low disk, then posts answer 507 naming the NATS store while the projector, its own disk fine, goes on (needs root for a tmpfs)",
  async () => {
    const storeDir = smallDisk("disk-guard-nats-", "4m", cli.cleanup);
    const cwd = writeFlows({ disk: [{ name: "echo", type: "disk.write", source: echoStep() }] });
    // 1 MiB: the data directory (on the machine's disk) is far above it, the 4 MiB tmpfs filled below.
    const env = await serviceEnv(nats.url, {
      CODEX_FLOW_BACKEND_CWD: cwd,
      CODEX_FLOW_NATS_STORE_DIR: storeDir,
      CODEX_FLOW_DISK_MIN_FREE_BYTES: String(MiB),
      CODEX_FLOW_DISK_MIN_FREE_PERCENT: "100",
    });
    fill(join(storeDir, "filler"), MiB / 2);
    const all = cli.start(["serve", "all"], { env });
    const url = await ingressUrlOf(all);
    const health = await json(fetch(`${url}/healthz`));
    expect(health.disk.dirs.map((d: { role: string; dir: string; low: boolean }) => [d.role, d.dir, d.low])).toEqual([
      ["read model", env.CODEX_FLOW_BACKEND_DATA_DIR, false],
      ["NATS store", storeDir, true],
    ]);
    const refused = await fetch(`${url}/events`, {
      method: "POST",
      body: JSON.stringify({ id: "refused", type: "disk.write", payload: {} }),
      headers: { "content-type": "application/json" },
    });
    expect(refused.status).toBe(507);
    expect((await json(refused)).error).toContain(`the NATS store's disk is low: `);
    expect((await json(fetch(`${url}/healthz`))).disk.low).toBe(true);

    await acceptElsewhere(env, "elsewhere");
    await eventually(
      async () =>
        (await json(fetch(`${url}/runs/${runIdFor("elsewhere", 0, "disk", "echo")}`))).run?.status === "completed",
      30_000,
      "the run to complete",
    );
    expect(all.stderr.filter((line) => line.includes("projector paused"))).toEqual([]);
    all.signal("SIGTERM");
    expect(await all.exit(30_000)).toBe(0);
  },
);

// Issue 19 item 1: the durability contract enforced at start (docs/durability.md), with
// real servers: Debian's 2.9.10 (cannot fsync per write), a current one with and without
// `sync_interval: always`, a 3-node cluster; `flow serve`, `flow:backend serve` and
// `flow dev` as processes. An OS crash cannot be simulated here: what is shown is the
// setting each server reports and that the warning and the refusal act on it.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync } from "node:fs";
import { jetstreamManager } from "@nats-io/jetstream";
import { logger } from "../lib/log.ts";
import { durabilityFindings } from "../lib/nats/durability.ts";
import { readDurabilityFacts } from "../lib/nats/durability-check.ts";
import { connectNats } from "../lib/nats/jetstream.ts";
import { CURRENT_NATS_SERVER, type EmbeddedNats, startNatsServer } from "../lib/nats/nats-server.ts";
import { startNatsCluster } from "./support/nats-cluster.ts";
import { ingressUrlOf, serviceEnv, useProcesses } from "./support/processes.ts";
import { tempDir } from "./support/temp.ts";

setDefaultTimeout(60_000);
const DEBIAN = "/usr/sbin/nats-server";
const cli = useProcesses();
const log = logger("durability-test");
const WEAKER = "weaker than documented";
let old: EmbeddedNats;
let always: EmbeddedNats;
let interval: EmbeddedNats;

beforeAll(async () => {
  if (!existsSync(CURRENT_NATS_SERVER))
    throw new Error(`${CURRENT_NATS_SERVER} not found: run scripts/install-nats-server-current.sh`);
  [old, always, interval] = await Promise.all([
    startNatsServer({ binary: DEBIAN, monitor: true }),
    startNatsServer({ binary: CURRENT_NATS_SERVER, monitor: true, syncAlways: true }),
    startNatsServer({ binary: CURRENT_NATS_SERVER, monitor: true }),
  ]);
});
afterAll(async () => {
  await cli.stopAll();
  await Promise.all([old, always, interval].map((server) => server?.stop()));
});

const weaker = (lines: string[]) => lines.filter((line) => line.includes(WEAKER));

describe("flow serve / flow:backend serve at start", () => {
  test("given nats-server 2.9.10, when the services start, then they warn once about sync_interval; with --require-durable or CODEX_FLOW_REQUIRE_DURABLE=1 they refuse", async () => {
    const env = await serviceEnv(old.url, { CODEX_FLOW_NATS_MONITOR_URL: old.monitorUrl });
    const proc = cli.start(["serve", "ingress"], { env });
    await ingressUrlOf(proc);
    expect(weaker(proc.stderr)).toEqual([
      expect.stringMatching(
        / warn weaker than documented \(sync_interval\): nats-server 2\.9\.10 has no sync_interval setting and fsyncs on its own timer \(every 60 s\); an OS crash or power loss can lose the events accepted in the last 60 s/,
      ),
    ]);

    const flag = await cli.run(["serve", "--require-durable"], {
      env: await serviceEnv(old.url, { CODEX_FLOW_NATS_MONITOR_URL: old.monitorUrl }),
      entry: "bin/flow-backend.ts",
    });
    expect(flag.code).toBe(1);
    expect(flag.stderr).toContain(
      "cannot start: refusing to start (CODEX_FLOW_REQUIRE_DURABLE=1 or --require-durable):",
    );
    expect(flag.stderr).toContain("nats-server 2.9.10 has no sync_interval setting");
    expect(flag.stderr).not.toContain("listening on");

    // Without a monitor URL the server's INFO still tells 2.9.10.
    const byEnv = await cli.run(["serve", "all"], {
      env: await serviceEnv(old.url, { CODEX_FLOW_REQUIRE_DURABLE: "1" }),
    });
    expect({
      code: byEnv.code,
      refused: byEnv.stderr.includes("nats-server 2.9.10 has no sync_interval setting"),
    }).toEqual({ code: 1, refused: true });
  });

  test("given a current server with sync_interval: always and a 1-replica stream on one host, then --require-durable starts and nothing is weaker", async () => {
    const proc = cli.start(["serve", "--require-durable"], {
      env: await serviceEnv(always.url, { CODEX_FLOW_NATS_MONITOR_URL: always.monitorUrl }),
      entry: "bin/flow-backend.ts",
    });
    await ingressUrlOf(proc);
    expect(weaker(proc.stderr)).toEqual([]);
  });

  test("given a current server on its default interval, or one whose setting cannot be read, then each is named, and CODEX_FLOW_REQUIRE_DURABLE=1 refuses", async () => {
    const refused = await cli.run(["serve", "ingress"], {
      env: await serviceEnv(interval.url, {
        CODEX_FLOW_NATS_MONITOR_URL: interval.monitorUrl,
        CODEX_FLOW_REQUIRE_DURABLE: "1",
      }),
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      "nats-server 2.15.3 fsyncs every 120 s, not before each acknowledgement; an OS crash or power loss can lose the events accepted in the last 120 s",
    );

    const unread = cli.start(["serve", "ingress"], { env: await serviceEnv(always.url) });
    await ingressUrlOf(unread);
    expect(weaker(unread.stderr)).toEqual([
      expect.stringContaining(
        "(sync_interval): not checked: no monitor URL to read nats-server 2.15.3's sync_interval from (set CODEX_FLOW_NATS_MONITOR_URL",
      ),
    ]);
  });
});

describe("flow dev's embedded nats-server", () => {
  const devEnv = async (extra: Record<string, string | undefined>) =>
    await serviceEnv(undefined, {
      CODEX_FLOW_STREAM: undefined,
      CODEX_FLOW_SUBJECT_PREFIX: undefined,
      NATS_SERVER_BIN: undefined,
      ...extra,
    });

  test("given a current nats-server at the install location, then it runs that one with sync_interval: always (read back by the startup check) and warns about nothing", async () => {
    const dev = cli.start(["dev"], { env: await devEnv({}) });
    const line = await dev.waitForLine(/^ {2}NATS {5}nats:\/\//, 30_000);
    const [, natsUrl, monitorUrl] = /NATS {5}(\S+) .*monitor (\S+)\)/.exec(line)!;
    const nc = await connectNats(natsUrl!, "durability-test", log);
    try {
      const facts = await readDurabilityFacts(nc, { stream: "FLOWS", replicas: 1, natsMonitorUrls: [monitorUrl!] });
      expect(facts.servers).toEqual([expect.objectContaining({ version: "2.15.3", syncAlways: true })]);
      expect(durabilityFindings(facts)).toEqual([]);
    } finally {
      await nc.close();
    }
    await dev.waitForLine("Ctrl-C stops everything.");
    expect(weaker(dev.stderr)).toEqual([]);
  });

  test("given only nats-server 2.9.10, then it still starts and says once, plainly, what an OS crash can cost and how to get more; --require-durable refuses", async () => {
    // No current server where the install script puts one: PATH's (Debian's) nats-server.
    const dev = cli.start(["dev"], {
      env: await devEnv({ CODEX_FLOW_NATS_SERVER_CURRENT_DIR: tempDir("codex-flows-no-current-") }),
    });
    await dev.waitForLine("Ctrl-C stops everything.", 30_000);
    const lines = weaker(dev.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(
      "an OS crash or power loss can lose the events accepted in the last 60 s (a crash of nats-server or of codex-flows alone loses nothing)",
    );
    expect(lines[0]).toContain("nats-server 2.9.10 has no sync_interval setting");
    expect(lines[0]).toContain("scripts/install-nats-server-current.sh");

    const refused = await cli.run(["dev", "--require-durable"], {
      env: await devEnv({ NATS_SERVER_BIN: DEBIAN }),
      timeoutMs: 30_000,
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("flow: refusing to start (CODEX_FLOW_REQUIRE_DURABLE=1 or --require-durable):");
  });
});

describe("a 3-node cluster", () => {
  test("given a stream of 1 replica in a cluster, then replicas is named; at 3 it is not", async () => {
    const cluster = await startNatsCluster(3);
    const nc = await connectNats(cluster.urls, "durability-test", log);
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: "DUR1", subjects: ["dur1.>"], num_replicas: 1 });
      await jsm.streams.add({ name: "DUR3", subjects: ["dur3.>"], num_replicas: 3 });
      const monitors = cluster.nodes.map((n) => `http://127.0.0.1:${n.monitorPort}`);
      const facts = await readDurabilityFacts(nc, { stream: "DUR1", replicas: 1, natsMonitorUrls: monitors });
      expect(facts.cluster).toBeString();
      expect(facts.servers).toHaveLength(3);
      const replicas = (stream: string) =>
        readDurabilityFacts(nc, { stream, replicas: 1, natsMonitorUrls: monitors }).then((f) =>
          durabilityFindings(f)
            .filter((x) => x.setting === "replicas")
            .map((x) => x.found),
        );
      expect(await replicas("DUR1")).toEqual([`stream DUR1 has 1 replica in cluster ${facts.cluster}`]);
      expect(await replicas("DUR3")).toEqual([]);
    } finally {
      await nc.close();
      await cluster.close();
    }
  });
});

// The durability contract of docs/durability.md, decided: settings in, the settings
// weaker than documented out, given/when/then.
import { describe, expect, test } from "bun:test";
import {
  type DurabilityFacts,
  describeFinding,
  durabilityFindings,
  supportsSyncAlways,
} from "../lib/nats/durability.ts";

const ALWAYS = { name: "nats-1", version: "2.15.3", syncAlways: true, syncIntervalNs: 120e9 };
const oneHost = (over: Partial<DurabilityFacts> = {}): DurabilityFacts => ({
  servers: [ALWAYS],
  unchecked: [],
  stream: { name: "FLOWS", exists: true, replicas: 1, storage: "file" },
  configuredReplicas: 1,
  ...over,
});
const settings = (facts: DurabilityFacts) => durabilityFindings(facts).map((f) => f.setting);

describe("supportsSyncAlways", () => {
  test("given nats-server versions, when asked, then 2.10 and newer take sync_interval: always and 2.9 does not", () => {
    expect(
      ["2.9.10", "v2.9.25", "2.10.0", "2.15.3", "v2.12.1-RC.2", "3.0.0", "garbage"].map(supportsSyncAlways),
    ).toEqual([false, false, true, true, true, true, undefined]);
  });
});

describe("durabilityFindings", () => {
  test("given one host on a current server fsyncing always with a 1-replica file stream, then nothing is weaker than documented", () => {
    expect(durabilityFindings(oneHost())).toEqual([]);
    // The stream not made yet: the services will create it with the configured replicas.
    expect(
      durabilityFindings(oneHost({ stream: { name: "FLOWS", exists: false, replicas: 1, storage: "file" } })),
    ).toEqual([]);
  });

  test("given nats-server 2.9.10, then sync_interval is named, with what an OS crash can cost and how to get the stronger guarantee", () => {
    const [finding, ...rest] = durabilityFindings(
      oneHost({ servers: [{ name: "NCP4R5VIOQQOOLHWUZEWMRPABYA63E5S2WODJVFLAMWUQ7CLRXTHONNT", version: "2.9.10" }] }),
    );
    expect(rest).toEqual([]);
    const line = describeFinding(finding!);
    expect(line).toContain("(sync_interval): nats-server 2.9.10 has no sync_interval setting");
    expect(line).toContain(
      "has no sync_interval setting and fsyncs on its own timer (every 60 s); an OS crash or power loss can lose the events accepted in the last 60 s",
    );
    expect(line).toContain("scripts/install-nats-server-current.sh");
    expect(line).toContain("docs/durability.md");
  });

  test("given a current server on its default interval, then sync_interval is named with the interval it has", () => {
    const findings = durabilityFindings(oneHost({ servers: [{ ...ALWAYS, syncAlways: false, syncIntervalNs: 30e9 }] }));
    expect(findings.map(describeFinding)).toEqual([
      expect.stringContaining(
        "nats-server 2.15.3 (nats-1) fsyncs every 30 s, not before each acknowledgement; an OS crash or power loss can lose the events accepted in the last 30 s",
      ),
    ]);
  });

  test("given settings that could not be read, then each is a finding: unproven is not durable", () => {
    const facts = oneHost({ servers: [], unchecked: ["http://127.0.0.1:8222/varz did not answer", "no monitor URL"] });
    expect(durabilityFindings(facts).map((f) => f.found)).toEqual([
      "not checked: http://127.0.0.1:8222/varz did not answer",
      "not checked: no monitor URL",
    ]);
  });

  test("given a cluster, then fewer than 3 replicas is weaker than documented, and 3 is not", () => {
    const cluster = (replicas: number) =>
      oneHost({ cluster: "codex-flows", stream: { name: "FLOWS", exists: true, replicas, storage: "file" } });
    expect(settings(cluster(1))).toEqual(["replicas"]);
    expect(describeFinding(durabilityFindings(cluster(1))[0]!)).toContain(
      "stream FLOWS has 1 replica in cluster codex-flows; the loss of one node's disk loses the events only it holds",
    );
    expect(settings(cluster(3))).toEqual([]);
  });

  test("given one host, then 1 replica is the documented shape, but fewer replicas than CODEX_FLOW_STREAM_REPLICAS asks for is named", () => {
    expect(settings(oneHost({ configuredReplicas: 3 }))).toEqual(["replicas"]);
    expect(
      settings(
        oneHost({ configuredReplicas: 3, stream: { name: "FLOWS", exists: false, replicas: 3, storage: "file" } }),
      ),
    ).toEqual([]);
  });

  test("given memory storage or an async persist mode, then each is named", () => {
    expect(
      settings(
        oneHost({ stream: { name: "FLOWS", exists: true, replicas: 1, storage: "memory", persistMode: "async" } }),
      ),
    ).toEqual(["storage", "persist_mode"]);
    expect(
      settings(
        oneHost({ stream: { name: "FLOWS", exists: true, replicas: 1, storage: "file", persistMode: "default" } }),
      ),
    ).toEqual([]);
  });

  test("given 2.9.10 in a 3-replica cluster, then only sync_interval is named, once per server", () => {
    const old = (name: string) => ({ name, version: "2.9.10" });
    const facts = oneHost({
      servers: [old("nats-1"), old("nats-2"), ALWAYS],
      cluster: "c",
      stream: { name: "FLOWS", exists: true, replicas: 3, storage: "file" },
      configuredReplicas: 3,
    });
    expect(durabilityFindings(facts).map((f) => f.found)).toEqual([
      "nats-server 2.9.10 (nats-1) has no sync_interval setting and fsyncs on its own timer (every 60 s)",
      "nats-server 2.9.10 (nats-2) has no sync_interval setting and fsyncs on its own timer (every 60 s)",
    ]);
  });
});

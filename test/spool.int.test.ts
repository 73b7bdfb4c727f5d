import { describe, expect, test } from "bun:test";
import { appendFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../lib/log.ts";
import { addressOf } from "../lib/protocol/address.ts";
import type { EventAccepted, FlowMessage } from "../lib/protocol/messages.ts";
import { subjects } from "../lib/protocol/subjects.ts";
import { HttpError } from "../services/ingress/errors.ts";
import { type Publisher, Unavailable } from "../services/ingress/publish.ts";
import { type Spool, startSpool } from "../services/ingress/spool/spool.ts";
import { eventually } from "./support/nats.ts";
import { tempDir } from "./support/temp.ts";

// The spool's files for real (issue 24 item 2): fsynced appends, a drain in order with the
// same message ids, progress that survives a restart, a torn tail dropped, the size bound.
// The stream is stood in for by a publisher that records what it was given, or refuses.
const SUBJECTS = subjects("flows");
const quiet: Logger = { info() {}, warn() {}, error() {} };
const message = (id: string): EventAccepted => ({
  v: 1,
  kind: "event.accepted",
  event: { id, type: "demo.ping", payload: { id }, receivedAt: "2026-12-07T00:00:00.000Z" },
  acceptedAt: "2026-12-07T00:00:00.000Z",
});

/** A stand-in for the stream: while `down`, every publish is Unavailable (the deadline passed); else it records the message id. */
type Stand = { down: boolean; published: { msgID: string; message: FlowMessage }[]; publish: Publisher };
function stream(): Stand {
  const self: Stand = {
    down: true,
    published: [] as { msgID: string; message: FlowMessage }[],
    publish: async (message) => {
      if (self.down) throw new Unavailable("is unavailable (test)");
      self.published.push({ msgID: addressOf(SUBJECTS, message).msgID, message });
      return { seq: self.published.length, duplicate: false };
    },
  };
  return self;
}

// The direct path and the drain publish to the same stand-in here.
let direct: Publisher;
const open = (dir: string, s: Stand, extra: { maxBytes?: number; accepted?: Set<string> } = {}): Spool => {
  direct = s.publish;
  return startSpool({
    dir,
    maxBytes: extra.maxBytes ?? 1024 * 1024,
    publish: s.publish,
    subjects: SUBJECTS,
    alreadyAccepted: (id) => extra.accepted?.has(id) ?? false,
    log: quiet,
    pauseMs: 20,
  });
};
const take = (spool: Spool, id: string) => spool.take(message(id), direct);

describe("the ingress spool", () => {
  test("given NATS cannot take an event, then it is spooled; later events follow it into the spool; once NATS answers they drain in order, once, and the files are cut to nothing", async () => {
    const dir = tempDir("codex-flows-spool-");
    const s = stream();
    const spool = open(dir, s);
    expect(await take(spool, "a")).toEqual({ spooled: true, duplicate: false });
    s.down = false;
    // NATS answers, but "a" waits in the spool: "b" goes behind it, not around it.
    expect(await take(spool, "b")).toEqual({ spooled: true, duplicate: false });
    expect(await take(spool, "a")).toEqual({ spooled: true, duplicate: true });
    await eventually(() => spool.state().depth === 0, 5_000, "the spool to drain");
    expect(s.published.map((p) => p.msgID)).toEqual(["event:a", "event:b"]);
    expect(s.published[0]!.message).toEqual(message("a"));
    expect(spool.state()).toMatchObject({ depth: 0, bytes: 0, oldestAgeMs: null, spooled: 2, drained: 2 });
    expect(statSync(join(dir, "spool.log")).size).toBe(0);
    // Empty again: the next event is published directly.
    expect(await take(spool, "c")).toEqual({ seq: 3, duplicate: false });
    await spool.stop();
  });

  test("given spooled events and a restart with a torn half-record at the end, then the whole ones drain in order and the torn bytes are kept aside", async () => {
    const dir = tempDir("codex-flows-spool-");
    const s = stream();
    const first = open(dir, s);
    for (const id of ["e1", "e2", "e3"]) await take(first, id);
    expect(first.state()).toMatchObject({ depth: 3 });
    expect(first.state().oldestAgeMs).toBeGreaterThanOrEqual(0);
    await first.stop();
    // A crash mid-append: a length prefix promising more than follows.
    appendFileSync(join(dir, "spool.log"), new Uint8Array([0, 0, 1, 0, 9, 9, 9, 9, 123]));
    s.down = false;
    const second = open(dir, s);
    await eventually(() => second.state().depth === 0, 5_000, "the spool to drain after the restart");
    expect(s.published.map((p) => p.msgID)).toEqual(["event:e1", "event:e2", "event:e3"]);
    expect(readdirSync(dir).filter((f) => f.startsWith("spool.log.torn-"))).toHaveLength(1);
    await second.stop();
  });

  test("given a restart after part of the spool drained, then the drain resumes after the last recorded record (none twice, none skipped)", async () => {
    const dir = tempDir("codex-flows-spool-");
    const s = stream();
    const first = open(dir, s);
    for (const id of ["p1", "p2", "p3", "p4"]) await take(first, id);
    // Let exactly two through, then stop.
    let allowed = 2;
    const gate = stream();
    gate.down = false;
    await first.stop();
    const counting: Publisher = async (msg) => {
      if (allowed-- <= 0) throw new Unavailable("is unavailable (test)");
      return await gate.publish(msg);
    };
    const middle = startSpool({
      dir,
      maxBytes: 1024 * 1024,
      publish: counting,
      subjects: SUBJECTS,
      alreadyAccepted: () => false,
      log: quiet,
      pauseMs: 20,
    });
    await eventually(() => middle.state().depth === 2, 5_000, "two drained");
    await middle.stop();
    s.down = false;
    const last = open(dir, s);
    await eventually(() => last.state().depth === 0, 5_000, "the rest drained");
    expect([...gate.published, ...s.published].map((p) => p.msgID)).toEqual([
      "event:p1",
      "event:p2",
      "event:p3",
      "event:p4",
    ]);
    await last.stop();
  });

  test("given the spool at its size bound, then a write NATS cannot take is 507 with Retry-After, and nothing is spooled", async () => {
    const dir = tempDir("codex-flows-spool-");
    const s = stream();
    const spool = open(dir, s, { maxBytes: 4096 });
    let n = 0;
    let refusal: unknown;
    // Bounded: each record is about 250 bytes, so the bound is reached well within 100.
    for (; n < 100 && refusal === undefined; n++) await take(spool, `full-${n}`).catch((error) => (refusal = error));
    expect(refusal).toBeInstanceOf(HttpError);
    expect((refusal as HttpError).status).toBe(507);
    expect((refusal as HttpError).message).toContain("CODEX_FLOW_INGRESS_SPOOL_MAX_BYTES=4096");
    expect((refusal as HttpError).headers?.["retry-after"]).toMatch(/^\d+$/);
    expect(spool.state().depth).toBe(n - 1);
    expect(spool.state().bytes).toBeLessThanOrEqual(4096);
    await spool.stop();
  });

  test("given a spooled event the read model already has (drained after the dedup window), then it is not published again", async () => {
    const dir = tempDir("codex-flows-spool-");
    const s = stream();
    const spool = open(dir, s, { accepted: new Set(["known"]) });
    await take(spool, "known");
    await take(spool, "new");
    s.down = false;
    await eventually(() => spool.state().depth === 0, 5_000, "the spool to drain");
    expect(s.published.map((p) => p.msgID)).toEqual(["event:new"]);
    expect(spool.state().drained).toBe(2);
    await spool.stop();
  });
});

describe("one ingress per spool", () => {
  test("given a spool directory another ingress holds, then opening it fails and names the holder and CODEX_FLOW_INGRESS_SPOOL", async () => {
    const dir = tempDir("codex-flows-spool-");
    const child = Bun.spawn(
      [
        "bun",
        "-e",
        `import { startSpool } from ${JSON.stringify(`${import.meta.dir}/../services/ingress/spool/spool.ts`)}; startSpool({ dir: ${JSON.stringify(dir)}, maxBytes: 65536, subjects: { event: () => "x" }, publish: async () => ({ seq: 1, duplicate: false }), alreadyAccepted: () => false, log: { info() {}, warn() {}, error() {} } }); console.log("held"); await Bun.sleep(60_000);`,
      ],
      { stdout: "pipe" },
    );
    try {
      const reader = child.stdout.getReader();
      await eventually(
        async () => new TextDecoder().decode((await reader.read()).value).includes("held"),
        15_000,
        "the other process to hold the spool",
      );
      expect(() => open(dir, stream())).toThrow(new RegExp(`in use by pid ${child.pid} .*CODEX_FLOW_INGRESS_SPOOL`));
    } finally {
      child.kill("SIGKILL");
      await child.exited;
    }
  });
});

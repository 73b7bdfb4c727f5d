import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../lib/log.ts";
import type { EventAccepted } from "../lib/protocol/messages.ts";
import { subjects } from "../lib/protocol/subjects.ts";
import { traceHeaders } from "../lib/tracing/nats.ts";
import { contextFrom, currentIds, inSpan, SpanKind } from "../lib/tracing/tracing.ts";
import { type Publisher, Unavailable } from "../services/ingress/publish.ts";
import { encodeRecord } from "../services/ingress/spool/record.ts";
import { type Spool, startSpool } from "../services/ingress/spool/spool.ts";
import { eventually } from "./support/nats.ts";
import { tempDir } from "./support/temp.ts";
import { useTracingSink } from "./support/tracing.ts";

// An event the ingress spooled (NATS away) and drained later, after a restart, continues the
// trace it was accepted in: its message carries the accept span's context, as one published
// at once does. The stream is stood in for by a publisher that records the NATS headers the
// real publishers set (lib/tracing/nats.ts traceHeaders) at the moment it publishes.
const SUBJECTS = subjects("flows");
const quiet: Logger = { info() {}, warn() {}, error() {} };
const SENDER = { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7" };
const message = (id: string): EventAccepted => ({
  v: 1,
  kind: "event.accepted",
  event: { id, type: "demo.ping", payload: { id }, receivedAt: "2026-12-08T00:00:00.000Z" },
  acceptedAt: "2026-12-08T00:00:00.000Z",
});

type Sent = { eventId: string; traceparent: string | null };
function stream(down: boolean): { published: Sent[]; publish: Publisher } {
  const published: Sent[] = [];
  return {
    published,
    publish: async (m) => {
      if (down) throw new Unavailable("is unavailable (test)");
      const traced = traceHeaders();
      const headers = "headers" in traced ? traced.headers : undefined;
      published.push({ eventId: (m as EventAccepted).event.id, traceparent: headers?.get("traceparent") ?? null });
      return { seq: published.length, duplicate: false };
    },
  };
}
const open = (dir: string, publish: Publisher): Spool =>
  startSpool({
    dir,
    maxBytes: 1 << 20,
    publish,
    subjects: SUBJECTS,
    alreadyAccepted: () => false,
    log: quiet,
    pauseMs: 20,
  });

useTracingSink("spool-test");

describe("a spooled event's trace", () => {
  test("given an event spooled under a sender's traceparent, when it drains after a restart, then its message continues the sender's trace under its accept span", async () => {
    const dir = tempDir("codex-flows-spool-trace-");
    const away = stream(true);
    const before = open(dir, away.publish);
    const sender = {
      get: (name: string) => (name === "traceparent" ? `00-${SENDER.traceId}-${SENDER.spanId}-01` : null),
    };
    const accept = await inSpan("accept", { kind: SpanKind.SERVER, parent: contextFrom(sender) }, async () => {
      expect(await before.take(message("spooled-1"), away.publish)).toEqual({ spooled: true, duplicate: false });
      return currentIds()!;
    });
    expect(accept.trace_id).toBe(SENDER.traceId);
    await before.stop();

    // A restart: a new spool over the same files, NATS back; the drain runs in no request's context.
    const back = stream(false);
    const after = open(dir, back.publish);
    await eventually(() => back.published.length === 1, 5_000, "the spooled event to drain");
    expect(back.published[0]).toEqual({
      eventId: "spooled-1",
      traceparent: `00-${SENDER.traceId}-${accept.span_id}-01`,
    });
    await after.stop();
  });

  test("given a spool file written before records kept a trace, then its records still drain, in no trace", async () => {
    const dir = tempDir("codex-flows-spool-trace-");
    const { msgID, subject } = { msgID: "event:old-1", subject: "flows.event.accepted" };
    // The record exactly as the first spool version wrote it: no `trace` field.
    writeFileSync(
      join(dir, "spool.log"),
      encodeRecord({ subject, msgID, eventId: "old-1", message: message("old-1"), spooledAt: Date.now() }),
    );
    const back = stream(false);
    const spool = open(dir, back.publish);
    await eventually(() => back.published.length === 1, 5_000, "the old record to drain");
    expect(back.published[0]).toEqual({ eventId: "old-1", traceparent: null });
    await spool.stop();
  });
});

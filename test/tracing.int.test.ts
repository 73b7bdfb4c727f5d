import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Config } from "../lib/config.ts";
import { flushTracing, stopTracing } from "../lib/tracing/tracing.ts";
import { type RunningSystem, startSystem } from "../services/runtime/system.ts";
import { writeFlows } from "./support/flows.ts";
import { json } from "./support/http.ts";
import { ensureJaeger, JAEGER, type JaegerSpan, type JaegerTrace, useJaeger } from "./support/jaeger.ts";
import { eventually, testConfig, useNatsServer } from "./support/nats.ts";
import { skipWithoutTool } from "./support/tools.ts";

const skip = skipWithoutTool(ensureJaeger(), `Jaeger (${JAEGER})`, "scripts/install-jaeger.sh");
const nats = useNatsServer();
const jaeger = useJaeger();
let config: Config;
let url: string;

// The second step adds a span of its own under its attempt: TRACEPARENT and a plain OTLP/HTTP JSON post, no SDK.
const OWN_SPAN = `const [, traceId, parentSpanId] = (process.env.TRACEPARENT ?? "").split("-");
const hex = (n) => [...crypto.getRandomValues(new Uint8Array(n))].map((b) => b.toString(16).padStart(2, "0")).join("");
const now = BigInt(Date.now()) * 1000000n;
const span = { traceId, spanId: hex(8), parentSpanId, name: "step's own work", kind: 1, startTimeUnixNano: String(now - 5000000n), endTimeUnixNano: String(now) };
const body = { resourceSpans: [{ resource: { attributes: [{ key: "service.name", value: { stringValue: "a-step" } }] }, scopeSpans: [{ scope: { name: "step" }, spans: [span] }] }] };
const posted = await fetch(process.env.OTEL_EXPORTER_OTLP_ENDPOINT + "/v1/traces", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
console.log("FLOW_RESULT " + JSON.stringify({ status: posted.ok ? "completed" : "failed", message: "span posted: " + posted.status }));`;

async function start(overrides: Partial<Config>, names: Parameters<typeof startSystem>[2]): Promise<RunningSystem> {
  const system = await startSystem({ ...config, ...overrides }, nats.url, names);
  nats.cleanup(() => system.stop());
  return system;
}

beforeAll(async () => {
  if (skip) return;
  // Tracing is on for this process (every service started below): the standard variable, read at start.
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = jaeger.endpoint;
  process.env.CODEX_FLOW_TRACE_URL_TEMPLATE = "http://jaeger.example:16686/trace/{traceId}";
  const cwd = writeFlows({
    traced: [
      {
        name: "first",
        type: "trace.start",
        extra: 'runs_on = "alpha"',
        source:
          'console.log("FLOW_RESULT " + JSON.stringify({ status: "completed", next: [{ type: "trace.next", payload: { from: "first" } }] }))',
      },
      { name: "second", type: "trace.next", extra: 'runs_on = "beta"', source: OWN_SPAN },
    ],
  });
  config = testConfig({ cwd, concurrency: 2 });
  url = (await start({}, ["ingress", "matcher", "projector"])).ingressUrl!;
  await start({ hostId: "host-a", labels: ["alpha"] }, ["executor"]);
  await start({ hostId: "host-b", labels: ["beta"] }, ["executor"]);
}, 60_000);

afterAll(async () => {
  delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  delete process.env.CODEX_FLOW_TRACE_URL_TEMPLATE;
  await stopTracing();
});

const tag = (span: JaegerSpan, key: string) => span.tags.find((t) => t.key === key)?.value;
const parentOf = (span: JaegerSpan) => span.references.find((r) => r.refType === "CHILD_OF")?.spanID;

describe.skipIf(skip)("OpenTelemetry traces", () => {
  test("one event with a chained step on two hosts is one trace: accept -> match -> attempt -> next accept -> match -> attempt -> the step's own span", async () => {
    // The sender's own trace: its traceparent is honoured, so the whole chain joins it.
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const senderSpan = "00f067aa0ba902b7";
    const accepted = await json(
      fetch(`${url}/events?wait=true`, {
        method: "POST",
        headers: { "content-type": "application/json", traceparent: `00-${traceId}-${senderSpan}-01` },
        body: JSON.stringify({ id: "traced-1", type: "trace.start", payload: {} }),
      }),
    );
    expect(accepted.status).toBe("accepted");
    const runs = await eventually(
      async () => {
        const { runs } = await json(fetch(`${url}/runs?limit=10`));
        const done = (runs as { stepName: string; status: string; host: string }[]).filter(
          (r) => r.status === "completed",
        );
        return done.length === 2 && done;
      },
      30_000,
      "both runs completed",
    );
    expect(runs.map((r) => `${r.stepName}@${r.host}`).sort()).toEqual(["first@host-a", "second@host-b"]);
    await flushTracing();

    const wanted = ["accept", "match", "queue wait", "attempt", "step's own work"];
    const trace: JaegerTrace = await eventually(
      async () => {
        const found = await jaeger.trace(traceId);
        const names = found?.spans.map((s) => s.operationName) ?? [];
        return (
          found &&
          names.filter((n) => n === "attempt").length === 2 &&
          names.filter((n) => n === "match").length === 2 &&
          names.includes("step's own work") &&
          found
        );
      },
      20_000,
      `the trace in Jaeger (its log: ${jaeger.output().slice(-1_000)})`,
    );
    for (const name of wanted) expect(trace.spans.map((s) => s.operationName)).toContain(name);

    const byId = new Map(trace.spans.map((s) => [s.spanID, s]));
    // Walk up from the step's own span to the sender's: each hop names its parent.
    const own = trace.spans.find((s) => s.operationName === "step's own work")!;
    const chain: JaegerSpan[] = [];
    for (let span: JaegerSpan | undefined = own; span; span = byId.get(parentOf(span) ?? "")) chain.push(span);
    expect(chain.map((s) => s.operationName).reverse()).toEqual([
      "accept",
      "match",
      "attempt",
      "accept",
      "match",
      "attempt",
      "step's own work",
    ]);
    const [firstAccept, firstMatch, firstAttempt, nextAccept, secondMatch, secondAttempt] = chain.reverse();
    expect(parentOf(firstAccept!)).toBe(senderSpan);
    expect(tag(firstAccept!, "codex_flows.event.id")).toBe("traced-1");
    expect(tag(firstMatch!, "messaging.system")).toBe("nats");
    expect(tag(firstMatch!, "codex_flows.match.matched")).toContain("traced/first");
    expect(tag(firstAttempt!, "codex_flows.host")).toBe("host-a");
    expect(tag(firstAttempt!, "codex_flows.runner")).toBe("bun");
    expect(tag(firstAttempt!, "process.exit.code")).toBe(0);
    expect(tag(firstAttempt!, "codex_flows.run.status")).toBe("completed");
    expect(tag(nextAccept!, "codex_flows.event.source")).toBe("next");
    expect(tag(secondMatch!, "codex_flows.match.matched")).toContain("traced/second");
    expect(tag(secondAttempt!, "codex_flows.host")).toBe("host-b");
    expect(tag(secondAttempt!, "codex_flows.run.status")).toBe("completed");
    // Each attempt's queue wait hangs off the match that queued it.
    const waits = trace.spans.filter((s) => s.operationName === "queue wait");
    expect(waits.map((w) => byId.get(parentOf(w)!)?.operationName)).toEqual(["match", "match"]);
    expect(trace.processes[own.processID]?.serviceName).toBe("a-step");

    // The read model keeps the trace: the API names it and where to see it (the dashboard's link).
    const { event } = await json(fetch(`${url}/events/traced-1`));
    expect(event).toMatchObject({ traceId, traceUrl: `http://jaeger.example:16686/trace/${traceId}` });
    for (const run of (await json(fetch(`${url}/runs?limit=10`))).runs) expect(run.traceId).toBe(traceId);
  }, 60_000);

  test("a replay is a trace of its own, linked to the original's", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    await json(fetch(`${url}/events/traced-1/replay`, { method: "POST" }));
    const replayed = await eventually(
      async () => {
        const { runs } = await json(fetch(`${url}/runs?eventId=traced-1`));
        return (runs as { generation: number; traceId: string | null }[]).find((r) => r.generation === 1 && r.traceId);
      },
      30_000,
      "the replay's run with its trace",
    );
    expect(replayed.traceId).not.toBe(traceId);
    await flushTracing();
    const trace = await eventually(
      async () => {
        const found = await jaeger.trace(replayed.traceId!);
        return found?.spans.some((s) => s.operationName === "match") && found;
      },
      20_000,
      "the replay's trace in Jaeger",
    );
    const accept = trace.spans.find((s) => s.operationName === "accept" && !parentOf(s))!;
    expect(accept.references.map((r) => r.traceID)).toContain(traceId);
  }, 60_000);
});

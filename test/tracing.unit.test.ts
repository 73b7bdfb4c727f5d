import { expect, test } from "bun:test";
import { headers } from "@nats-io/nats-core";
import { looksSecret } from "../lib/runners/step-env.ts";
import { traceHeaders, traceIdOf } from "../lib/tracing/nats.ts";
import { currentIds, inSpan, tracing, tracingWanted } from "../lib/tracing/tracing.ts";

test("tracing is on only with an OTLP endpoint, and OTEL_SDK_DISABLED or OTEL_TRACES_EXPORTER=none keep it off", () => {
  expect(tracingWanted({})).toBe(false);
  expect(tracingWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: " " })).toBe(false);
  expect(tracingWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://jaeger:4318" })).toBe(true);
  expect(tracingWanted({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://jaeger:4318/v1/traces" })).toBe(true);
  expect(tracingWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://jaeger:4318", OTEL_SDK_DISABLED: "TRUE" })).toBe(false);
  expect(tracingWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://jaeger:4318", OTEL_TRACES_EXPORTER: "none" })).toBe(
    false,
  );
});

test("with tracing off, a span is no span: the work runs, no header is added, logs get no ids", async () => {
  expect(tracing()).toBe(false);
  const seen = await inSpan(
    "accept",
    {
      attributes: () => {
        throw new Error("attributes built while tracing is off");
      },
    },
    async (span) => {
      expect(traceHeaders()).toEqual({});
      expect(currentIds()).toBeUndefined();
      return span;
    },
  );
  expect(seen).toBeUndefined();
});

test("the trace id a message's traceparent names, and none for a malformed or all-zero one", () => {
  const carrying = (value: string) => {
    const h = headers();
    h.set("traceparent", value);
    return h;
  };
  expect(traceIdOf(carrying("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))).toBe(
    "4bf92f3577b34da6a3ce929d0e0e4736",
  );
  expect(traceIdOf(carrying("00-00000000000000000000000000000000-00f067aa0ba902b7-01"))).toBeNull();
  expect(traceIdOf(carrying("garbage"))).toBeNull();
  // Not sampled: no trace the backend has, so none to link to.
  expect(traceIdOf(carrying("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"))).toBeNull();
  expect(traceIdOf(undefined)).toBeNull();
});

test("the OTLP exporter's headers (a tracing backend's API key) count as a secret for steps", () => {
  expect(looksSecret("OTEL_EXPORTER_OTLP_HEADERS")).toBe(true);
  expect(looksSecret("OTEL_EXPORTER_OTLP_TRACES_HEADERS")).toBe(true);
  expect(looksSecret("OTEL_EXPORTER_OTLP_ENDPOINT")).toBe(false);
  expect(looksSecret("TRACEPARENT")).toBe(false);
});

test("OTEL_TRACES_SAMPLER picks the sampler: parent-based always-on by default, a ratio when asked", async () => {
  const { samplerOf } = await import("../lib/tracing/sdk.ts");
  expect(samplerOf({}).toString()).toContain("ParentBased{root=AlwaysOnSampler");
  expect(
    samplerOf({ OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.1" }).toString(),
  ).toContain("TraceIdRatioBased{0.1}");
  expect(samplerOf({ OTEL_TRACES_SAMPLER: "always_off" }).toString()).toBe("AlwaysOffSampler");
  expect(samplerOf({ OTEL_TRACES_SAMPLER: "nonsense" }).toString()).toContain("ParentBased{root=AlwaysOnSampler");
});

test("the batch processor's settings come from the standard OTEL_BSP_* variables, else ours; a batch never exceeds the queue", async () => {
  const { batchSettings } = await import("../lib/tracing/sdk.ts");
  expect(batchSettings({})).toEqual({
    scheduledDelayMillis: 500,
    exportTimeoutMillis: 30_000,
    maxQueueSize: 4_096,
    maxExportBatchSize: 512,
  });
  expect(
    batchSettings({
      OTEL_BSP_SCHEDULE_DELAY: "2000",
      OTEL_BSP_EXPORT_TIMEOUT: "5000",
      OTEL_BSP_MAX_QUEUE_SIZE: "1024",
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "2048",
    }),
  ).toEqual({
    scheduledDelayMillis: 2_000,
    exportTimeoutMillis: 5_000,
    maxQueueSize: 1_024,
    maxExportBatchSize: 1_024,
  });
  // Not a positive whole number: the default, not a processor that never exports.
  expect(batchSettings({ OTEL_BSP_SCHEDULE_DELAY: "soon", OTEL_BSP_MAX_QUEUE_SIZE: "-1" })).toMatchObject({
    scheduledDelayMillis: 500,
    maxQueueSize: 4_096,
  });
});

test("OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL picks JSON or protobuf; anything else is JSON", async () => {
  const { protocolOf } = await import("../lib/tracing/export.ts");
  expect(protocolOf({})).toBe("http/json");
  expect(protocolOf({ OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf" })).toBe("http/protobuf");
  expect(
    protocolOf({ OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf", OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/json" }),
  ).toBe("http/json");
  expect(protocolOf({ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" })).toBe("http/json");
});

test("the exporter posts to the configured endpoint with the configured headers, OTLP/JSON by default and protobuf when asked", async () => {
  const { traceExporter } = await import("../lib/tracing/export.ts");
  const { SimpleSpanProcessor, TracerProvider } = await import("@opentelemetry/sdk-trace");
  const seen: { path: string; type: string | null; key: string | null; bytes: number }[] = [];
  const sink = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      const { pathname } = new URL(request.url);
      const bytes = (await request.arrayBuffer()).byteLength;
      seen.push({
        path: pathname,
        type: request.headers.get("content-type"),
        key: request.headers.get("x-api-key"),
        bytes,
      });
      return new Response("{}", { headers: { "content-type": "application/json" } });
    },
  });
  const saved = { ...process.env };
  try {
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${sink.port}`;
    process.env.OTEL_EXPORTER_OTLP_HEADERS = "x-api-key=k1";
    for (const protocol of ["http/json", "http/protobuf"]) {
      process.env.OTEL_EXPORTER_OTLP_PROTOCOL = protocol;
      const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: traceExporter() })] });
      provider.getTracer("test").startSpan("accept").end();
      await provider.forceFlush();
      await provider.shutdown();
    }
  } finally {
    for (const name of ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_PROTOCOL"])
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    await sink.stop(true);
  }
  expect(seen.map(({ bytes, ...rest }) => rest)).toEqual([
    { path: "/v1/traces", type: "application/json", key: "k1" },
    { path: "/v1/traces", type: "application/x-protobuf", key: "k1" },
  ]);
  for (const { bytes } of seen) expect(bytes).toBeGreaterThan(0);
});

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

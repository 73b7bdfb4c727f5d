/**
 * The OpenTelemetry SDK, loaded only when tracing is on (lib/tracing/tracing.ts): a
 * tracer provider that samples what its parent sampled (and everything a root starts),
 * batches spans to the OTLP/HTTP exporter (which reads OTEL_EXPORTER_OTLP_* itself:
 * endpoint, headers, timeout) every 500 ms, holding at most 4,096 (beyond that, under a
 * load the backend cannot take, spans are dropped, never the work: a larger queue cost
 * throughput in the bench's tracing row), the W3C trace-context propagator, and an
 * AsyncLocalStorage context manager, all registered globally for this thread.
 */

import { hostname } from "node:os";
import { context, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from "@opentelemetry/semantic-conventions";
import { traceExporter } from "./export.ts";

/**
 * The sampler OTEL_TRACES_SAMPLER names (the specification's values: always_on,
 * always_off, traceidratio, parentbased_always_on, parentbased_always_off,
 * parentbased_traceidratio, with OTEL_TRACES_SAMPLER_ARG the ratio, default 1); unset or
 * unknown: parentbased_always_on.
 */
export function samplerOf(env: Record<string, string | undefined>): Sampler {
  const name = env.OTEL_TRACES_SAMPLER?.trim().toLowerCase() ?? "parentbased_always_on";
  const arg = Number(env.OTEL_TRACES_SAMPLER_ARG ?? "1");
  const ratio = new TraceIdRatioBasedSampler(Number.isFinite(arg) && arg >= 0 && arg <= 1 ? arg : 1);
  const root =
    { always_on: new AlwaysOnSampler(), always_off: new AlwaysOffSampler(), traceidratio: ratio }[
      name.replace(/^parentbased_/, "")
    ] ?? new AlwaysOnSampler();
  return name.startsWith("parentbased_") || !["always_on", "always_off", "traceidratio"].includes(name)
    ? new ParentBasedSampler({ root })
    : root;
}

/** The batch span processor's settings: the standard OTEL_BSP_* variables, else ours (docs/tracing.md). */
export function batchSettings(env: Record<string, string | undefined>) {
  const read = (name: string, fallback: number) => {
    const value = Number(env[name]?.trim() || Number.NaN);
    return Number.isInteger(value) && value > 0 ? value : fallback;
  };
  const maxQueueSize = read("OTEL_BSP_MAX_QUEUE_SIZE", 4_096);
  return {
    scheduledDelayMillis: read("OTEL_BSP_SCHEDULE_DELAY", 500),
    exportTimeoutMillis: read("OTEL_BSP_EXPORT_TIMEOUT", 30_000),
    maxQueueSize,
    maxExportBatchSize: Math.min(read("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512), maxQueueSize),
  };
}

export function installSdk(
  service: string,
  env: Record<string, string | undefined> = process.env,
): { flush(): Promise<void>; shutdown(): Promise<void> } {
  // OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME (envDetector) win over the defaults here.
  const resource = defaultResource()
    .merge(
      resourceFromAttributes({
        [ATTR_SERVICE_NAME]: service,
        [ATTR_SERVICE_VERSION]: "0.1.0",
        "host.name": hostname(),
      }),
    )
    .merge(detectResources({ detectors: [envDetector] }));
  const provider = new TracerProvider({
    resource,
    sampler: samplerOf(env),
    spanProcessors: [new BatchSpanProcessor({ exporter: traceExporter(env), ...batchSettings(env) })],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  return {
    flush: () => provider.forceFlush(),
    async shutdown() {
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}

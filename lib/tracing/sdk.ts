/**
 * The OpenTelemetry SDK, loaded only when tracing is on (lib/tracing/tracing.ts): a
 * tracer provider that samples what its parent sampled (and everything a root starts),
 * batches spans to the OTLP/HTTP exporter (which reads OTEL_EXPORTER_OTLP_* itself:
 * endpoint, headers, timeout) every 500 ms, holding at most 4,096 (beyond that, under a
 * load the backend cannot take, spans are dropped, never the work: a larger queue cost
 * throughput in the bench's tracing row), the W3C trace-context propagator, and an
 * AsyncLocalStorage context manager, all registered globally for this thread.
 */
import { context, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { defaultResource, envDetector, detectResources, resourceFromAttributes } from "@opentelemetry/resources";
import { AlwaysOnSampler, BatchSpanProcessor, ParentBasedSampler, TracerProvider } from "@opentelemetry/sdk-trace";
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from "@opentelemetry/semantic-conventions";
import { hostname } from "node:os";

export function installSdk(service: string): { flush(): Promise<void>; shutdown(): Promise<void> } {
  // OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME (envDetector) win over the defaults here.
  const resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: service, [ATTR_SERVICE_VERSION]: "0.1.0", "host.name": hostname() }))
    .merge(detectResources({ detectors: [envDetector] }));
  const provider = new TracerProvider({
    resource,
    sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter(), scheduledDelayMillis: 500, maxQueueSize: 4_096, maxExportBatchSize: 512 })],
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

import { afterAll, beforeAll } from "bun:test";
import { startTracing, stopTracing } from "../../lib/tracing/tracing.ts";

/**
 * Tracing on in this process for the file, as `service`, its spans exported to a local
 * sink that takes them and keeps nothing (what such a test checks is the trace context,
 * not the backend); off again after the file.
 */
export function useTracingSink(service: string): void {
  let sink: ReturnType<typeof Bun.serve>;
  beforeAll(async () => {
    sink = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("{}") });
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${sink.port}`;
    await startTracing(service);
  });
  afterAll(async () => {
    await stopTracing();
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    await sink.stop(true);
  });
}

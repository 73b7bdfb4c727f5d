import { afterAll, beforeAll } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../../lib/nats/nats-server.ts";
import { eventually } from "./nats.ts";
import { REPO } from "./processes.ts";
import { tempDir } from "./temp.ts";

/** Where scripts/install-jaeger.sh builds Jaeger (CODEX_FLOW_JAEGER_DIR overrides). */
export const JAEGER = join(process.env.CODEX_FLOW_JAEGER_DIR ?? "/usr/local/lib/codex-flows/jaeger", "jaeger");

/** Builds Jaeger once when it is missing (scripts/install-jaeger.sh; minutes the first time); whether it is there. */
export function ensureJaeger(): boolean {
  if (existsSync(JAEGER)) return true;
  Bun.spawnSync(["bash", join(REPO, "scripts/install-jaeger.sh")], { stdout: "inherit", stderr: "inherit" });
  return existsSync(JAEGER);
}

/** A span as Jaeger's query API (GET /api/traces/{id}) returns it. */
export type JaegerSpan = {
  traceID: string;
  spanID: string;
  operationName: string;
  references: { refType: string; traceID: string; spanID: string }[];
  tags: { key: string; value: unknown }[];
  processID: string;
};
export type JaegerTrace = { traceID: string; spans: JaegerSpan[]; processes: Record<string, { serviceName: string }> };

/**
 * Starts a real Jaeger (all-in-one, in-memory storage) for the test file: its OTLP/HTTP
 * receiver and its query HTTP API on free ports of 127.0.0.1, nothing else listening.
 */
export function useJaeger() {
  let child: ReturnType<typeof Bun.spawn> | undefined;
  let otlp = 0;
  let query = 0;
  const output: string[] = [];
  beforeAll(async () => {
    [otlp, query] = [await freePort(), await freePort()];
    const grpc = await freePort();
    const config = join(tempDir("codex-flows-jaeger-"), "jaeger.yaml");
    writeFileSync(
      config,
      `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_storage:
    backends:
      mem:
        memory:
          max_traces: 10000
  jaeger_query:
    storage:
      traces: mem
    http:
      endpoint: 127.0.0.1:${query}
    grpc:
      endpoint: 127.0.0.1:${grpc}
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${otlp}
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: mem
`,
    );
    child = Bun.spawn([JAEGER, "--config", config], { stdout: "pipe", stderr: "pipe" });
    for (const stream of [child.stdout, child.stderr] as ReadableStream<Uint8Array>[]) {
      void (async () => {
        for await (const chunk of stream) output.push(new TextDecoder().decode(chunk));
      })();
    }
    await eventually(
      async () => (await fetch(`http://127.0.0.1:${query}/api/services`).catch(() => undefined))?.ok,
      60_000,
      `Jaeger's query API (output: ${output.join("").slice(-2_000)})`,
    );
  }, 90_000);
  afterAll(async () => {
    child?.kill("SIGTERM");
    await child?.exited;
  });
  return {
    /** OTEL_EXPORTER_OTLP_ENDPOINT for this Jaeger. */
    get endpoint() {
      return `http://127.0.0.1:${otlp}`;
    },
    /** The trace Jaeger holds by id, or undefined (not there yet). */
    async trace(traceId: string): Promise<JaegerTrace | undefined> {
      const response = await fetch(`http://127.0.0.1:${query}/api/traces/${traceId}`);
      if (!response.ok) return undefined;
      const body = (await response.json()) as { data?: JaegerTrace[] };
      return body.data?.[0];
    },
    output: () => output.join(""),
  };
}

/**
 * The span exporter (lib/tracing/sdk.ts): the official OTLP/HTTP exporter's parts, with
 * Bun's fetch as its transport. The configuration is the official exporter's own, read
 * from the standard variables by @opentelemetry/otlp-exporter-base (endpoint, traces
 * endpoint, headers, timeout, compression), and so are the serializers and the export
 * delegate (a bounded number of exports in flight, partial-success handling). What
 * differs is the request: the official exporter's node:http client costs about twice the
 * CPU per span of fetch under Bun (docs/performance.md, "Tracing on and off"), and it
 * sends OTLP/JSON whatever OTEL_EXPORTER_OTLP_PROTOCOL says, where this one sends
 * protobuf when the protocol is `http/protobuf`.
 */
import { diag } from "@opentelemetry/api";
import {
  createOtlpNetworkExportDelegate,
  type ExportResponse,
  type IExporterTransport,
  OTLPExporterBase,
} from "@opentelemetry/otlp-exporter-base";
import { convertLegacyHttpOptions, createOtlpHttpExporterMetrics } from "@opentelemetry/otlp-exporter-base/node-http";
import {
  JsonTraceSerializer,
  ProtobufTraceSerializer,
  TraceExporterMetricsHelper,
} from "@opentelemetry/otlp-transformer";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace";

/** The wire format OTEL_EXPORTER_OTLP_TRACES_PROTOCOL (else OTEL_EXPORTER_OTLP_PROTOCOL) names: `http/json` (the default) or `http/protobuf`. */
export function protocolOf(env: Record<string, string | undefined>): "http/json" | "http/protobuf" {
  const named = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? "").trim().toLowerCase();
  if (named === "http/protobuf") return "http/protobuf";
  if (named !== "" && named !== "http/json")
    diag.warn(`OTLP protocol ${named} is not supported here (http/json or http/protobuf): sending http/json`);
  return "http/json";
}

type HttpConfig = ReturnType<typeof convertLegacyHttpOptions>;

const RETRYABLE = new Set([429, 502, 503, 504]);

/** One POST per export with fetch: the official transport's answers (success, retryable with Retry-After, failure). */
function fetchTransport(config: HttpConfig): IExporterTransport {
  return {
    async send(data: Uint8Array, timeoutMillis: number): Promise<ExportResponse> {
      const headers = await config.headers();
      const gzip = config.compression === "gzip";
      const payload = data as Uint8Array<ArrayBuffer>;
      if (gzip) headers["Content-Encoding"] = "gzip";
      try {
        const response = await fetch(config.url, {
          method: "POST",
          headers,
          body: gzip ? Bun.gzipSync(payload) : payload,
          signal: AbortSignal.timeout(timeoutMillis),
        });
        const body = new Uint8Array(await response.arrayBuffer());
        if (response.ok) return { status: "success", data: body };
        if (RETRYABLE.has(response.status)) {
          const after = Number(response.headers.get("retry-after"));
          return { status: "retryable", ...(after > 0 ? { retryInMillis: after * 1000 } : {}) };
        }
        return {
          status: "failure",
          error: new Error(`OTLP export answered ${response.status} ${response.statusText}`),
        };
      } catch (error) {
        return { status: "retryable", error: error as Error };
      }
    },
    shutdown() {},
  };
}

/** The span exporter the environment configures (OTEL_EXPORTER_OTLP_*), sending with fetch. */
export function traceExporter(env: Record<string, string | undefined> = process.env): SpanExporter {
  const protobuf = protocolOf(env) === "http/protobuf";
  const config = convertLegacyHttpOptions({}, "TRACES", "v1/traces", {
    "Content-Type": protobuf ? "application/x-protobuf" : "application/json",
  });
  const metrics = createOtlpHttpExporterMetrics(
    "otlp_http_span_exporter",
    TraceExporterMetricsHelper,
    config.url,
    undefined,
  );
  const delegate = createOtlpNetworkExportDelegate<ReadableSpan[], unknown>(
    config,
    protobuf ? ProtobufTraceSerializer : JsonTraceSerializer,
    metrics,
    fetchTransport(config),
  );
  return new OTLPExporterBase(delegate);
}

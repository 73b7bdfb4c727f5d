/**
 * A minimal OTLP/HTTP trace sink for the tracing row (bench/tracing-row.ts): it answers
 * every export at once with an empty success and keeps the bodies, so that the row
 * measures our side of tracing (making, serialising and sending spans) and not a trace
 * backend's ingestion on the same cores. The spans are counted from the kept OTLP/JSON
 * bodies after the load (`count()`), never while it runs, so the proof that spans were
 * exported costs the measurement nothing.
 */
type OtlpJson = { resourceSpans?: { scopeSpans?: { spans?: { name?: string }[] }[] }[] };

export type OtlpSink = {
  url: string;
  /** Exports received, their bytes, and the spans they held (OTLP/JSON bodies; a protobuf body counts as an export only). */
  count(): { exports: number; bytes: number; spans: number; byName: Record<string, number> };
  stop(): Promise<void>;
};

export function startOtlpSink(): OtlpSink {
  const bodies: { json: boolean; body: ArrayBuffer }[] = [];
  let exports = 0;
  let bytes = 0;
  let spans = 0;
  const byName: Record<string, number> = {};
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      const body = await request.arrayBuffer();
      const json = (request.headers.get("content-type") ?? "").includes("json");
      exports++;
      bytes += body.byteLength;
      bodies.push({ json, body });
      return json
        ? new Response("{}", { headers: { "content-type": "application/json" } })
        : new Response(new Uint8Array(0), { headers: { "content-type": "application/x-protobuf" } });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    count() {
      for (const body of bodies.splice(0)) {
        if (!body.json) continue;
        const request = JSON.parse(new TextDecoder().decode(body.body)) as OtlpJson;
        for (const resource of request.resourceSpans ?? [])
          for (const scope of resource.scopeSpans ?? [])
            for (const span of scope.spans ?? []) {
              spans++;
              byName[span.name ?? ""] = (byName[span.name ?? ""] ?? 0) + 1;
            }
      }
      return { exports, bytes, spans, byName };
    },
    stop: () => server.stop(true),
  };
}

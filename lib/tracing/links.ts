/**
 * The address of a trace in the operator's tracing UI: CODEX_FLOW_TRACE_URL_TEMPLATE with
 * `{traceId}` replaced (e.g. `http://jaeger:16686/trace/{traceId}`). The API gives it with
 * each run and event that has a trace id, and the dashboard links to it (docs/tracing.md).
 */
export function traceUrl(
  traceId: string | null | undefined,
  env: Record<string, string | undefined> = process.env,
): string | null {
  const template = env.CODEX_FLOW_TRACE_URL_TEMPLATE?.trim();
  if (!traceId || !template?.includes("{traceId}")) return null;
  return template.replaceAll("{traceId}", encodeURIComponent(traceId));
}

/** What a run or an event view says of its trace: its id and, when a template is configured, its address. */
export function traceFields(traceId: string | null | undefined): { traceId: string | null; traceUrl: string | null } {
  return { traceId: traceId ?? null, traceUrl: traceUrl(traceId) };
}

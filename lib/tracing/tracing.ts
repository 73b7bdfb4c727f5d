/**
 * OpenTelemetry traces (docs/tracing.md): off unless an OTLP endpoint is set
 * (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT). Off, every helper
 * here costs one boolean check and the SDK is never loaded; on, the SDK (lib/tracing/sdk.ts)
 * is loaded once per thread, spans go out over OTLP/HTTP in batches, and the context
 * current in a handler follows its awaits (AsyncLocalStorage).
 */
import {
  type Attributes,
  type Context,
  context,
  createContextKey,
  type Link,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type Tracer,
  trace,
} from "@opentelemetry/api";

export { SpanKind } from "@opentelemetry/api";

/** The name spans are made under (instrumentation scope). */
export const TRACER_NAME = "codex-flows";

let on = false;
/** This thread's tracer while tracing is on (looked up once: the global provider's lookup costs on every span). */
let cachedTracer: Tracer | undefined;
let started: Promise<void> | undefined;
let stopSdk: (() => Promise<void>) | undefined;
let flushSdk: (() => Promise<void>) | undefined;

/** Whether the environment turns tracing on: an OTLP endpoint is set, and neither OTEL_SDK_DISABLED=true nor OTEL_TRACES_EXPORTER=none says otherwise. */
export function tracingWanted(env: Record<string, string | undefined> = process.env): boolean {
  const endpoint = (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT ?? "").trim();
  return (
    endpoint !== "" &&
    env.OTEL_SDK_DISABLED?.trim().toLowerCase() !== "true" &&
    env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() !== "none"
  );
}

/** Whether spans are being made in this thread. */
export function tracing(): boolean {
  return on;
}

let wantedHere: boolean | undefined;

/**
 * Whether messages' trace ids are worth reading (the projector keeps them): tracing is on
 * in this thread, or this process's environment asks for it (a rebuild, which makes no
 * spans). Read once; with tracing off nothing reads a header for it.
 */
export function traceIdsWanted(): boolean {
  return on || (wantedHere ??= tracingWanted());
}

/**
 * Starts tracing in this thread when the environment asks for it (tracingWanted); once:
 * a second call (another service of the same process) is a no-op. `service` is the
 * service.name unless OTEL_SERVICE_NAME sets one.
 */
export function startTracing(service: string, env: Record<string, string | undefined> = process.env): Promise<void> {
  if (!tracingWanted(env)) return Promise.resolve();
  started ??= import("./sdk.ts").then((sdk) => {
    const installed = sdk.installSdk(env.OTEL_SERVICE_NAME?.trim() || service, env);
    stopSdk = installed.shutdown;
    flushSdk = installed.flush;
    on = true;
  });
  return started;
}

/** Sends every ended span now (a test, or a process about to exit). */
export async function flushTracing(): Promise<void> {
  if (on) await flushSdk?.();
}

/** Flushes and stops the exporter; spans made afterwards are dropped. */
export async function stopTracing(): Promise<void> {
  if (!on) return;
  on = false;
  cachedTracer = undefined;
  started = undefined;
  await stopSdk?.();
}

function tracer(): Tracer {
  cachedTracer ??= trace.getTracer(TRACER_NAME);
  return cachedTracer;
}

/**
 * Starts a span, its attributes set once it is known to be recorded: given to startSpan,
 * the SDK would clean them twice (for the sampler, which here never reads them, and for
 * the span), the largest share of a span's cost in the bench's profile.
 */
function startSpan(
  name: string,
  options: Omit<SpanOptions, "attributes">,
  attributes: Attributes | undefined,
  parent: Context,
) {
  const span = tracer().startSpan(
    name,
    { kind: options.kind ?? SpanKind.INTERNAL, links: options.links?.(), startTime: options.startTime },
    parent,
  );
  if (attributes !== undefined && span.isRecording()) span.setAttributes(attributes);
  return span;
}

export type SpanOptions = {
  kind?: SpanKind;
  /** Called only when tracing is on (nothing is built for a span that is not made). */
  attributes?: () => Attributes;
  /** Called only when tracing is on, as `attributes`. */
  links?: () => Link[];
  /** The parent: by default the current context. */
  parent?: Context;
  startTime?: Date | number;
};

/**
 * Runs `work` inside a new span that is current for it (and ends when it settles; a
 * throw marks it failed). Tracing off: `work(undefined)`, nothing else.
 */
export async function inSpan<T>(
  name: string,
  options: SpanOptions,
  work: (span: Span | undefined) => Promise<T>,
): Promise<T> {
  if (!on) return await work(undefined);
  const parent = options.parent ?? context.active();
  const span = startSpan(name, options, options.attributes?.(), parent);
  try {
    return await context.with(trace.setSpan(parent, span), () => work(span));
  } catch (error) {
    span.recordException(error as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message ?? String(error) });
    throw error;
  } finally {
    span.end();
  }
}

/** A span that already happened (a queue wait), child of the current context. */
export function recordSpan(
  name: string,
  startTime: Date | number,
  endTime: Date | number,
  attributes: Attributes,
): void {
  if (!on) return;
  startSpan(name, { startTime }, attributes, context.active()).end(endTime);
}

/** Sets attributes on the current span (a decision known only inside it); `attributes` is called only when tracing is on. */
export function annotate(attributes: () => Attributes): void {
  if (on) trace.getActiveSpan()?.setAttributes(attributes());
}

/** A carrier the W3C propagator reads: anything with get(name). */
type Readable = { get(name: string): string | null | undefined } | undefined;
const getter: TextMapGetter<Readable> = {
  keys: () => ["traceparent", "tracestate"],
  get: (carrier, key) => carrier?.get(key) || undefined,
};

/** The trace context a carrier (HTTP request headers, NATS message headers) carries; the root context when none. */
export function contextFrom(carrier: Readable): Context {
  if (!on || carrier === undefined) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, carrier, getter);
}

/** Runs `work` with the context a carrier carries made current (the consumers' handlers). */
export function withContextFrom<T>(carrier: Readable, work: () => T): T {
  if (!on) return work();
  return context.with(contextFrom(carrier), work);
}

/** A trace context kept for later (a spooled event's, services/ingress/spool): W3C `traceparent` and `tracestate`. */
export type SavedTrace = { traceparent: string; tracestate?: string };

/** Runs `work` in a saved trace context (a spooled event drained later continues the trace it was accepted in); without one, as it is. */
export function withSavedTrace<T>(saved: SavedTrace | undefined, work: () => T): T {
  if (!on || typeof saved?.traceparent !== "string") return work();
  const get = (name: string) =>
    name === "traceparent" ? saved.traceparent : name === "tracestate" ? saved.tracestate : undefined;
  return withContextFrom({ get }, work);
}

/** The key under which the SDK marks a context whose work makes no spans (@opentelemetry/core suppressTracing: an export). */
const SUPPRESSED = createContextKey("OpenTelemetry SDK Context Key SUPPRESS_TRACING");

/** The current context's `traceparent` and `tracestate` (W3C), or undefined when there is no sampled span. */
export function currentTraceHeaders(): SavedTrace | undefined {
  if (!on) return undefined;
  // What the W3C propagator injects, written here: through the global propagation API it was 7% of tracing's profile.
  const active = context.active();
  const span = trace.getSpanContext(active);
  if (!span || !trace.isSpanContextValid(span) || active.getValue(SUPPRESSED) === true) return undefined;
  const traceparent = `00-${span.traceId}-${span.spanId}-0${Number(span.traceFlags || 0).toString(16)}`;
  const tracestate = span.traceState?.serialize();
  return tracestate ? { traceparent, tracestate } : { traceparent };
}

/** The trace and span ids of the current span (logs), or undefined. */
export function currentIds(): { trace_id: string; span_id: string } | undefined {
  if (!on) return undefined;
  const span = trace.getActiveSpan()?.spanContext();
  return span && trace.isSpanContextValid(span) ? { trace_id: span.traceId, span_id: span.spanId } : undefined;
}

/** A link to another trace (a replay's to its original), from its W3C ids. */
export function linkTo(traceId: string | null | undefined, attributes: Attributes = {}): Link[] {
  if (!traceId || !/^[0-9a-f]{32}$/.test(traceId)) return [];
  // The original's root span id is not kept: the link names the trace, with a placeholder span id W3C accepts.
  return [{ context: { traceId, spanId: "0000000000000001", traceFlags: 1, isRemote: true }, attributes }];
}

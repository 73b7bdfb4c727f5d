import { currentIds } from "./tracing/tracing.ts";

/** Structured one-line logs to stderr: `service level message {fields}`; with tracing on, a line written inside a span carries its trace_id and span_id. */
export type Logger = {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
};

const LEVELS = ["error", "warn", "info"];

/** The most detailed level written: CODEX_FLOW_LOG=silent|error|warn|info (default info). */
function thresholdOf(wanted = "info"): number {
  return wanted === "silent" ? -1 : LEVELS.indexOf(wanted) === -1 ? 2 : LEVELS.indexOf(wanted);
}

// Read once: a log line must not cost an environment lookup (configureLog changes it on purpose).
let threshold = thresholdOf(process.env.CODEX_FLOW_LOG);

/** Sets the level every logger writes from now on (CODEX_FLOW_LOG's values); a test or a command that reconfigures. */
export function configureLog(level: string | undefined): void {
  threshold = thresholdOf(level);
}

/**
 * The fields that describe a failure: an Error's message and stack (and its cause's
 * message), anything else as text. Loggers apply it to an `error` field themselves.
 */
export function errorFields(error: unknown): { error: string; stack?: string; cause?: string } {
  if (!(error instanceof Error)) return { error: String(error) };
  const cause =
    error.cause === undefined
      ? {}
      : { cause: error.cause instanceof Error ? error.cause.message : String(error.cause) };
  return { error: error.message || error.name, ...(error.stack ? { stack: error.stack } : {}), ...cause };
}

function render(fields?: Record<string, unknown>): string {
  if (!fields || Object.keys(fields).length === 0) return "";
  const plain = fields.error instanceof Error ? { ...fields, ...errorFields(fields.error) } : fields;
  return ` ${JSON.stringify(plain)}`;
}

/** A logger that prefixes every line with the time and the service name; an Error in `error` is written with its stack. */
export function logger(service: string): Logger {
  const write = (level: string, message: string, fields?: Record<string, unknown>) => {
    if (LEVELS.indexOf(level) > threshold) return;
    const ids = currentIds();
    process.stderr.write(
      `${new Date().toISOString()} ${service} ${level} ${message}${render(ids ? { ...fields, ...ids } : fields)}\n`,
    );
  };
  return {
    info: (message, fields) => write("info", message, fields),
    warn: (message, fields) => write("warn", message, fields),
    error: (message, fields) => write("error", message, fields),
  };
}

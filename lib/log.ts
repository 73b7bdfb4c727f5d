/** Structured one-line logs to stderr: `service level message {fields}`. */
export type Logger = {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
};

const LEVELS = ["error", "warn", "info"];

/** The most detailed level written: CODEX_FLOW_LOG=silent|error|warn|info (default info). */
function threshold(): number {
  const wanted = process.env.CODEX_FLOW_LOG ?? "info";
  return wanted === "silent" ? -1 : LEVELS.indexOf(wanted) === -1 ? 2 : LEVELS.indexOf(wanted);
}

/** A logger that prefixes every line with the time and the service name. */
export function logger(service: string): Logger {
  const write = (level: string, message: string, fields?: Record<string, unknown>) => {
    if (LEVELS.indexOf(level) > threshold()) return;
    const extra = fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : "";
    process.stderr.write(`${new Date().toISOString()} ${service} ${level} ${message}${extra}\n`);
  };
  return {
    info: (message, fields) => write("info", message, fields),
    warn: (message, fields) => write("warn", message, fields),
    error: (message, fields) => write("error", message, fields),
  };
}

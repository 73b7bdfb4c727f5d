/** Structured one-line logs to stderr: `service level message {fields}`. */
export type Logger = {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
};

const quiet = process.env.CODEX_FLOW_LOG === "silent";

/** A logger that prefixes every line with the service name. CODEX_FLOW_LOG=silent mutes it. */
export function logger(service: string): Logger {
  const write = (level: string, message: string, fields?: Record<string, unknown>) => {
    if (quiet) return;
    const extra = fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : "";
    process.stderr.write(`${new Date().toISOString()} ${service} ${level} ${message}${extra}\n`);
  };
  return {
    info: (message, fields) => write("info", message, fields),
    warn: (message, fields) => write("warn", message, fields),
    error: (message, fields) => write("error", message, fields),
  };
}

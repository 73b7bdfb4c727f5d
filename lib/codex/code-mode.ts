import { JsonRpcError } from "./jsonrpc.ts";
import { RpcErrorCode, type Turn } from "./protocol.ts";

/** The fork-only method that runs Code Mode source on a thread. */
export const CODE_MODE_EXECUTE = "thread/codeMode/execute";

/** The app-server's command line: the original backend's code-mode features (seed/flows.md) switched on. */
export const APP_SERVER_ARGS = [
  "app-server",
  "--listen",
  "stdio://",
  "--enable",
  "code_mode",
  "--enable",
  "code_mode_only",
];

/** What a code-mode step sees as `flow`: the object bun steps find under `flow` on stdin. */
export type CodeModeFlow = {
  name: string;
  version: number;
  root: string;
  step: string;
  config: Record<string, unknown>;
  event: unknown;
};

/**
 * The step's source behind a one-line prelude that defines `flow` and `result(value)`.
 * `result` writes the FLOW_RESULT line with Code Mode's `text()` and ends the run with
 * `exit()`, so the line lands in the thread's agent messages and is parsed exactly like
 * a bun step's stdout. One line, so line N of the step is line N + 1 in Codex's errors;
 * the context travels as a JSON string literal so no value can break out of it.
 */
export function codeModeSource(flow: CodeModeFlow, body: string): string {
  const prelude =
    `const flow = JSON.parse(${JSON.stringify(JSON.stringify(flow))}); ` +
    `function result(value) { text("\\nFLOW_RESULT " + JSON.stringify(value) + "\\n"); exit(); }`;
  return `${prelude}\n${body}`;
}

/**
 * The text of the agent messages of `turnId` (of every turn when that turn is not
 * listed), one message per line, for parseFlowResult.
 */
export function agentMessageText(turns: readonly Turn[], turnId: string | undefined): string {
  const own = turns.filter((turn) => turn.id === turnId);
  const chosen = own.length > 0 ? own : turns;
  return chosen
    .flatMap((turn) => turn.items ?? [])
    .filter((item) => item.type === "agentMessage" && item.text !== undefined)
    .map((item) => item.text)
    .join("\n");
}

/**
 * True when the server refused `method` as unknown: JSON-RPC's method-not-found, or
 * the upstream app-server's "Invalid request: unknown variant `<method>`" (code -32600),
 * which is how a Codex build without the fork's patches answers `thread/codeMode/execute`.
 */
export function isUnknownMethod(error: unknown, method: string): boolean {
  if (!(error instanceof JsonRpcError)) return false;
  if (error.code === RpcErrorCode.methodNotFound) return true;
  return (
    error.code === RpcErrorCode.invalidRequest &&
    error.rpcMessage.includes("unknown variant") &&
    error.rpcMessage.includes(method)
  );
}

/** The run's error when the Codex build lacks Code Mode: what is missing, which build, and the variable that picks another. */
export function missingCodeModeError(command: string, userAgent: string | undefined): string {
  // The userAgent reads "<client name>/<codex version> (<os>) ...".
  const version = userAgent === undefined ? undefined : /^[^/\s]+\/(\S+)/.exec(userAgent)?.[1];
  const build = version ? ` (codex ${version})` : "";
  return (
    `this Codex build${build} lacks ${CODE_MODE_EXECUTE}, the fork-only Code Mode method: ` +
    `set CODEX_APP_SERVER_CODEX_COMMAND to a Codex build that has it (now: ${command})`
  );
}

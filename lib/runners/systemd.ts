/**
 * The systemd-run executor's command lines, as pure functions: which unit a run gets,
 * which variables reach it, and the exact argv of `systemd-run` and `systemctl`.
 * Nothing here spawns anything; lib/runners/launch.ts does.
 */
import { parseEnvNames } from "./step-env.ts";

/** The original backend's defaults (seed/flows.md) for CODEX_FLOW_BACKEND_FORWARD_ENV. */
export const DEFAULT_FORWARD_ENV: readonly string[] = [
  "CODEX_FLOWS_ENABLE_CODE_MODE",
  "CODEX_APP_SERVER_CODEX_COMMAND",
  "CODEX_HOME",
  "HOME",
  "PATH",
];

// systemd's own limit is 255 bytes including the ".service" it appends.
const UNIT_NAME_MAX = 255 - ".service".length;
const UNIT_NAME = /^[A-Za-z0-9:_.\\-]+$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// systemd refuses environment values with control characters other than tab and newline.
const BAD_ENV_VALUE = /[\u0000-\u0008\u000b-\u001f\u007f]/;

export type SystemdRunSpec = {
  unit: string;
  workingDirectory: string;
  /** Exactly the variables the unit gets: a transient user unit starts from the user manager's environment, not ours. */
  env: Record<string, string>;
  /** What runs inside the unit; argv[0] must be an absolute path (the manager does not search our PATH). */
  command: string[];
  /** `systemctl stop` sends SIGTERM, then SIGKILL after this (TimeoutStopSec=). */
  killGraceMs: number;
};

/** Reads CODEX_FLOW_BACKEND_FORWARD_ENV for a unit (parsed as everywhere, by parseEnvNames); unset or empty means the original backend's defaults (seed/flows.md). */
export function parseForwardEnv(value: string | undefined): string[] {
  return parseEnvNames(value) ?? [...DEFAULT_FORWARD_ENV];
}

/**
 * The transient unit for one run: `codex-flow-<runId>`, so an operator finds it with
 * `systemctl --user status codex-flow-<runId>` and a second attempt of the same run on
 * the same host cannot overlap a first one that is still running (systemd refuses the
 * duplicate name). Characters systemd does not allow become `_`.
 */
export function unitNameFor(runId: string): string {
  const name = `codex-flow-${runId.replace(/[^A-Za-z0-9:_.-]/g, "_")}`;
  return name.length > UNIT_NAME_MAX ? name.slice(0, UNIT_NAME_MAX) : name;
}

/**
 * The variables the unit gets: each name in `forward` that is set in `from`, then
 * `always` (the step's own variables, which win). An `undefined` in `always` drops the
 * variable even when it is forwarded.
 */
export function unitEnvironment(
  from: Record<string, string | undefined>,
  forward: readonly string[],
  always: Record<string, string | undefined>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of forward) {
    const value = from[name];
    if (value !== undefined) env[name] = value;
  }
  for (const [name, value] of Object.entries(always)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

/** A reason the spec cannot become a valid systemd-run command line, or undefined when it can. */
export function checkSystemdRunSpec(spec: SystemdRunSpec): string | undefined {
  if (!UNIT_NAME.test(spec.unit) || spec.unit.length > UNIT_NAME_MAX) return `invalid unit name "${spec.unit}"`;
  if (!spec.workingDirectory.startsWith("/"))
    return `the working directory must be absolute, got "${spec.workingDirectory}"`;
  if (!spec.command[0]?.startsWith("/"))
    return `the command must start with an absolute path, got "${spec.command[0] ?? ""}"`;
  for (const [name, value] of Object.entries(spec.env)) {
    if (!ENV_NAME.test(name)) return `environment variable name "${name}" cannot be passed to systemd-run`;
    if (BAD_ENV_VALUE.test(value))
      return `environment variable ${name} holds a control character systemd does not accept`;
  }
  return undefined;
}

/**
 * `systemd-run --user --collect --wait --pipe --quiet --unit=... --working-directory=...
 * --property=TimeoutStopSec=... --setenv=K=V ... -- command...`. `--pipe` hands our
 * stdin/stdout/stderr to the unit (the step's JSON input, its FLOW_RESULT, the
 * app-server's JSON-RPC); `--quiet` keeps systemd-run's own "Running as unit" lines out
 * of the step's output. `$` in the command is doubled because the manager expands
 * `$VAR` in a unit's command line (and `$$` back to `$`).
 */
export function systemdRunArgv(spec: SystemdRunSpec): string[] {
  const problem = checkSystemdRunSpec(spec);
  if (problem !== undefined) throw new Error(problem);
  const setenv = Object.keys(spec.env)
    .sort()
    .map((name) => `--setenv=${name}=${spec.env[name]}`);
  return [
    "systemd-run",
    "--user",
    "--collect",
    "--wait",
    "--pipe",
    "--quiet",
    `--unit=${spec.unit}`,
    `--working-directory=${spec.workingDirectory}`,
    `--property=TimeoutStopSec=${Math.max(1, Math.ceil(spec.killGraceMs))}ms`,
    ...setenv,
    "--",
    ...spec.command.map((arg) => arg.replaceAll("$", "$$$$")),
  ];
}

/** `systemctl --user stop <unit>`: SIGTERM to every process of the unit, SIGKILL after TimeoutStopSec. */
export function systemctlStopArgv(unit: string): string[] {
  return ["systemctl", "--user", "stop", unit];
}

/** `systemctl --user kill --signal=SIGKILL <unit>`: SIGKILL to every process of the unit at once (fencing: no grace). */
export function systemctlKillArgv(unit: string): string[] {
  return ["systemctl", "--user", "kill", "--signal=SIGKILL", unit];
}

import { describe, expect, test } from "bun:test";
import {
  checkSystemdRunSpec,
  DEFAULT_FORWARD_ENV,
  parseForwardEnv,
  type SystemdRunSpec,
  systemctlStopArgv,
  systemdRunArgv,
  unitEnvironment,
  unitNameFor,
} from "../lib/runners/systemd.ts";

const SPEC: SystemdRunSpec = {
  unit: "codex-flow-run-abc",
  workingDirectory: "/srv/flows/example",
  env: { PATH: "/usr/bin", CODEX_FLOW_RUN_ID: "run-abc" },
  command: ["/usr/bin/bun", "/srv/flows/example/exec/greet.ts"],
  killGraceMs: 5000,
};

describe("systemd-run command lines", () => {
  test("given a spec, when built, then every flag codex-flows relies on is there, variables sorted, the command after --", () => {
    expect(systemdRunArgv(SPEC)).toEqual([
      "systemd-run",
      "--user",
      "--collect",
      "--wait",
      "--pipe",
      "--quiet",
      "--unit=codex-flow-run-abc",
      "--working-directory=/srv/flows/example",
      "--property=TimeoutStopSec=5000ms",
      "--setenv=CODEX_FLOW_RUN_ID=run-abc",
      "--setenv=PATH=/usr/bin",
      "--",
      "/usr/bin/bun",
      "/srv/flows/example/exec/greet.ts",
    ]);
  });

  test("given a $ in the command, when built, then it is doubled so the manager does not expand it", () => {
    expect(systemdRunArgv({ ...SPEC, command: ["/opt/$HOME/bun", "a$$b"] }).slice(-2)).toEqual([
      "/opt/$$HOME/bun",
      "a$$$$b",
    ]);
  });

  test("given what systemd would refuse, when checked, then the reason names it", () => {
    expect(checkSystemdRunSpec(SPEC)).toBeUndefined();
    expect(checkSystemdRunSpec({ ...SPEC, workingDirectory: "flows" })).toBe(
      'the working directory must be absolute, got "flows"',
    );
    expect(checkSystemdRunSpec({ ...SPEC, command: ["bun"] })).toBe(
      'the command must start with an absolute path, got "bun"',
    );
    expect(checkSystemdRunSpec({ ...SPEC, unit: "codex flow" })).toBe('invalid unit name "codex flow"');
    expect(checkSystemdRunSpec({ ...SPEC, env: { "BAD-NAME": "x" } })).toBe(
      'environment variable name "BAD-NAME" cannot be passed to systemd-run',
    );
    expect(checkSystemdRunSpec({ ...SPEC, env: { BELL: "\u0007" } })).toBe(
      "environment variable BELL holds a control character systemd does not accept",
    );
    expect(checkSystemdRunSpec({ ...SPEC, env: { MULTI: "a\nb\tc" } })).toBeUndefined();
    expect(() => systemdRunArgv({ ...SPEC, command: ["bun"] })).toThrow("absolute path");
  });

  test("stopping is systemctl --user stop on the unit", () => {
    expect(systemctlStopArgv("codex-flow-run-abc")).toEqual(["systemctl", "--user", "stop", "codex-flow-run-abc"]);
  });
});

describe("unit names", () => {
  test("given a run id, the unit is codex-flow-<run>", () => {
    expect(unitNameFor("run-0123456789abcdef01234567")).toBe("codex-flow-run-0123456789abcdef01234567");
  });

  test("given characters systemd does not allow, they become _ and the name stays within systemd's limit", () => {
    expect(unitNameFor("run 1/x@y")).toBe("codex-flow-run_1_x_y");
    const long = unitNameFor("r".repeat(400));
    expect(long.length + ".service".length).toBe(255);
    expect(checkSystemdRunSpec({ ...SPEC, unit: long })).toBeUndefined();
  });
});

describe("the unit's environment", () => {
  test("given no CODEX_FLOW_BACKEND_FORWARD_ENV, the seed's list is forwarded", () => {
    expect(parseForwardEnv(undefined)).toEqual([
      "CODEX_FLOWS_ENABLE_CODE_MODE",
      "CODEX_APP_SERVER_CODEX_COMMAND",
      "CODEX_HOME",
      "HOME",
      "PATH",
    ]);
    expect(parseForwardEnv(" , ")).toEqual([...DEFAULT_FORWARD_ENV]);
    expect(parseForwardEnv("PATH, GIT_AUTHOR_NAME,,HOME")).toEqual(["PATH", "GIT_AUTHOR_NAME", "HOME"]);
  });

  test("given a forward list, only the set variables on it pass, then the step's own win or drop", () => {
    const from = { PATH: "/bin", HOME: "/home/u", SECRET: "s", CODEX_HOME: undefined };
    expect(
      unitEnvironment(from, ["PATH", "HOME", "CODEX_HOME"], {
        CODEX_FLOW_RUN_ID: "run-1",
        HOME: undefined,
        PATH: "/opt/bin",
      }),
    ).toEqual({
      PATH: "/opt/bin",
      CODEX_FLOW_RUN_ID: "run-1",
    });
  });
});

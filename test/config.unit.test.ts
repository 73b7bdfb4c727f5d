import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ConfigError, loadClientConfig, loadConfig } from "../lib/config.ts";
import { parseForwardEnv } from "../lib/runners/systemd.ts";

const CWD = "/srv/flows-checkout";

describe("loadConfig defaults", () => {
  test("given no variables, when loaded, then it listens on 127.0.0.1:7345 with stream FLOWS, prefix flows and the direct executor", () => {
    const config = loadConfig({ CODEX_FLOW_BACKEND_CWD: CWD });
    expect(config).toMatchObject({
      host: "127.0.0.1",
      port: 7345,
      stream: "FLOWS",
      subjectPrefix: "flows",
      executor: "direct",
      cwd: CWD,
    });
    expect(config.secret).toBeUndefined();
    expect(config.natsUrl).toBeUndefined();
    expect(config.concurrency).toBeGreaterThanOrEqual(2);
    expect(config.hostId).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  test("given no data dir, when loaded, then the data lives under the working directory", () => {
    expect(loadConfig({ CODEX_FLOW_BACKEND_CWD: CWD }).dataDir).toBe(join(CWD, ".data"));
  });

  test("given no cwd at all, when loaded, then the process's directory is the working directory", () => {
    const config = loadConfig({});
    expect(config.cwd).toBe(process.cwd());
    expect(config.dataDir).toBe(join(process.cwd(), ".data"));
  });

  test("given empty values, when loaded, then they count as unset", () => {
    const config = loadConfig({
      CODEX_FLOW_BACKEND_CWD: CWD,
      CODEX_FLOW_BACKEND_PORT: "",
      CODEX_FLOW_BACKEND_SECRET: "",
      NATS_URL: "",
      CODEX_FLOW_STREAM: "",
    });
    expect(config).toMatchObject({ port: 7345, stream: "FLOWS" });
    expect(config.secret).toBeUndefined();
    expect(config.natsUrl).toBeUndefined();
  });
});

describe("loadConfig honours every seed variable", () => {
  const env = {
    CODEX_FLOW_BACKEND_HOST: "0.0.0.0",
    CODEX_FLOW_BACKEND_PORT: "8123",
    CODEX_FLOW_BACKEND_DATA_DIR: "/var/lib/codex-flow-systemd-local",
    CODEX_FLOW_BACKEND_SECRET: "shared-hmac-secret",
    CODEX_FLOW_BACKEND_EXECUTOR: "systemd-run",
    CODEX_FLOW_BACKEND_CWD: "/home/peezy/codex-flows-public",
    NATS_URL: "nats://nats.internal:4222",
    CODEX_FLOW_STREAM: "FLOWS_STAGING",
    CODEX_FLOW_SUBJECT_PREFIX: "staging.flows",
    CODEX_FLOW_HOST_ID: "builder-1",
    CODEX_FLOW_EXECUTOR_CONCURRENCY: "3",
  };

  test("given the seed's variables, when loaded, then each one is the value used", () => {
    expect(loadConfig(env)).toMatchObject({
      host: "0.0.0.0",
      port: 8123,
      dataDir: "/var/lib/codex-flow-systemd-local",
      secret: "shared-hmac-secret",
      executor: "systemd-run",
      cwd: "/home/peezy/codex-flows-public",
      natsUrl: "nats://nats.internal:4222",
      stream: "FLOWS_STAGING",
      subjectPrefix: "staging.flows",
      hostId: "builder-1",
      concurrency: 3,
    });
  });

  test("given a relative data dir, when loaded, then it is resolved against the working directory", () => {
    expect(loadConfig({ CODEX_FLOW_BACKEND_CWD: CWD, CODEX_FLOW_BACKEND_DATA_DIR: "state" }).dataDir).toBe(
      join(CWD, "state"),
    );
  });

  test("given a relative cwd, when loaded, then it is made absolute", () => {
    expect(loadConfig({ CODEX_FLOW_BACKEND_CWD: "some/dir" }).cwd).toBe(resolve("some/dir"));
  });

  test("given CLI overrides, when loaded, then --cwd and --port win over the environment", () => {
    const config = loadConfig(env, { cwd: "/elsewhere", port: 9001 });
    expect(config).toMatchObject({ cwd: "/elsewhere", port: 9001, host: "0.0.0.0" });
    expect(config.dataDir).toBe("/var/lib/codex-flow-systemd-local");
  });

  test("given port 0, when loaded, then it is accepted (the kernel picks a port)", () => {
    expect(loadConfig({ CODEX_FLOW_BACKEND_PORT: "0" }).port).toBe(0);
  });
});

describe("loadConfig rejects bad values with a ConfigError naming the variable and what was expected", () => {
  const cases: [string, string, RegExp][] = [
    ["CODEX_FLOW_BACKEND_PORT", "70000", /expected an integer from 0 to 65535/],
    ["CODEX_FLOW_BACKEND_PORT", "abc", /expected an integer from 0 to 65535/],
    ["CODEX_FLOW_BACKEND_PORT", "80.5", /expected an integer from 0 to 65535/],
    ["CODEX_FLOW_BACKEND_EXECUTOR", "docker", /expected one of direct, systemd-run/],
    ["CODEX_FLOW_STREAM", "a.b", /expected 1-\d+ letters, digits, _ or -/],
    ["CODEX_FLOW_SUBJECT_PREFIX", "flows.>", /expected dot-separated tokens/],
    ["CODEX_FLOW_HOST_ID", "my host", /expected 1-\d+ letters, digits, _ or -/],
    ["CODEX_FLOW_EXECUTOR_CONCURRENCY", "0", /expected an integer from 1 to 1024/],
  ];

  for (const [name, value, expected] of cases) {
    test(`given ${name}=${JSON.stringify(value)}, when loaded, then it throws naming ${name} and ${expected.source}`, () => {
      let thrown: unknown;
      try {
        loadConfig({ [name]: value });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ConfigError);
      const message = (thrown as Error).message;
      expect(message).toContain(`${name}=${JSON.stringify(value)}`);
      expect(message).toMatch(expected);
    });
  }
});

describe("issue 9's limits and the step environment", () => {
  test("given no variables, when loaded, then the forward list is unset, nothing more is denied, and the fan-out and response limits have their defaults", () => {
    const config = loadConfig({ CODEX_FLOW_BACKEND_CWD: CWD });
    expect(config).toMatchObject({
      stepEnvDeny: [],
      maxNextEvents: 100,
      maxChainEvents: 1000,
      responseBudgetBytes: 4 * 1024 * 1024,
    });
    expect(config.forwardEnv).toBeUndefined();
  });

  test("given name lists, when loaded, then they are read; a bad name is a ConfigError naming the variable", () => {
    const config = loadConfig({
      CODEX_FLOW_BACKEND_CWD: CWD,
      CODEX_FLOW_BACKEND_FORWARD_ENV: "PATH, HOME",
      CODEX_FLOW_STEP_ENV_DENY: "AWS_SECRET_ACCESS_KEY",
    });
    expect(config).toMatchObject({ forwardEnv: ["PATH", "HOME"], stepEnvDeny: ["AWS_SECRET_ACCESS_KEY"] });
    expect(() => loadConfig({ CODEX_FLOW_STEP_ENV_DENY: "OK,not-a-name" })).toThrow(
      new ConfigError(
        'CODEX_FLOW_STEP_ENV_DENY="OK,not-a-name" is invalid: expected comma-separated environment variable names',
      ),
    );
    expect(() => loadConfig({ CODEX_FLOW_MAX_NEXT_EVENTS: "-1" })).toThrow(ConfigError);
  });
});

describe("issue 18: the kill grace is a setting checked against the lease", () => {
  test("given no CODEX_FLOW_KILL_GRACE_MS, then a step's grace is 5 s or a quarter of the lease, whichever is less", () => {
    expect(loadConfig({}).killGraceMs).toBe(2_000);
    expect(loadConfig({ CODEX_FLOW_ACK_WAIT_MS: "1500" }).killGraceMs).toBe(375);
    expect(loadConfig({ CODEX_FLOW_ACK_WAIT_MS: "60000" }).killGraceMs).toBe(5_000);
  });

  test("given a grace up to a quarter of the lease, then it is taken; past it, the services refuse to start with a ConfigError naming both variables", () => {
    expect(loadConfig({ CODEX_FLOW_KILL_GRACE_MS: "2000" }).killGraceMs).toBe(2_000);
    expect(loadConfig({ CODEX_FLOW_KILL_GRACE_MS: "0" }).killGraceMs).toBe(0);
    expect(() => loadConfig({ CODEX_FLOW_KILL_GRACE_MS: "5000" })).toThrow(
      new ConfigError(
        "CODEX_FLOW_KILL_GRACE_MS=5000 is invalid: expected at most a quarter of the lease (CODEX_FLOW_ACK_WAIT_MS=8000), i.e. 2000 ms",
      ),
    );
    expect(() => loadConfig({ CODEX_FLOW_ACK_WAIT_MS: "30000", CODEX_FLOW_KILL_GRACE_MS: "7501" })).toThrow(
      ConfigError,
    );
    expect(() => loadConfig({ CODEX_FLOW_KILL_GRACE_MS: "soon" })).toThrow(
      new ConfigError('CODEX_FLOW_KILL_GRACE_MS="soon" is invalid: expected an integer from 0 to 3600000'),
    );
  });
});

describe("issue 20: the CLI reads its configuration through lib/config.ts, with the services' defaults", () => {
  const REPO = join(import.meta.dir, "..");

  test("given nothing set, when a client command resolves its ingress, then it is the address the services listen on", () => {
    const services = loadConfig({});
    expect(loadClientConfig({})).toEqual({
      cwd: process.cwd(),
      url: `http://${services.host}:${services.port}`,
      secret: undefined,
      token: undefined,
    });
  });

  test("given the services' variables, when resolved, then the client talks to that host and port with their secret and token; flags win", () => {
    const env = {
      CODEX_FLOW_BACKEND_HOST: "10.0.0.7",
      CODEX_FLOW_BACKEND_PORT: "7400",
      CODEX_FLOW_BACKEND_SECRET: "s",
      CODEX_FLOW_BACKEND_TOKEN: "t",
      CODEX_FLOW_BACKEND_CWD: REPO,
    };
    expect(loadClientConfig(env)).toEqual({ cwd: REPO, url: "http://10.0.0.7:7400", secret: "s", token: "t" });
    expect(loadClientConfig(env, { port: 9000 }).url).toBe("http://10.0.0.7:9000");
    expect(loadClientConfig({ ...env, CODEX_FLOW_URL: "https://flows.example.com" }).url).toBe(
      "https://flows.example.com",
    );
    expect(
      loadClientConfig({ ...env, CODEX_FLOW_URL: "https://flows.example.com" }, { url: "http://other:1" }).url,
    ).toBe("http://other:1");
    expect(loadClientConfig({ CODEX_FLOW_BACKEND_HOST: "::1" }).url).toBe("http://[::1]:7345");
  });

  test("given a bad port or a missing directory, when resolved, then a ConfigError names it as loadConfig would", () => {
    expect(() => loadClientConfig({ CODEX_FLOW_BACKEND_PORT: "70000" })).toThrow(
      new ConfigError('CODEX_FLOW_BACKEND_PORT="70000" is invalid: expected an integer from 0 to 65535'),
    );
    expect(() => loadClientConfig({ CODEX_FLOW_BACKEND_CWD: "/no/such/dir" })).toThrow(
      new ConfigError("CODEX_FLOW_BACKEND_CWD=/no/such/dir: no such directory"),
    );
    expect(() => loadClientConfig({}, { cwd: "/no/such/dir" })).toThrow(
      new ConfigError("--cwd /no/such/dir: no such directory"),
    );
  });

  test("bin/ and cli/ read no configuration variable themselves", () => {
    const files = [
      ...readdirSync(join(REPO, "bin")).map((name) => join("bin", name)),
      ...readdirSync(join(REPO, "cli")).map((name) => join("cli", name)),
    ].filter((name) => name.endsWith(".ts"));
    const reads = files.flatMap((file) =>
      [...readFileSync(join(REPO, file), "utf8").matchAll(/process\.env\.(CODEX_FLOW_[A-Z_]+|NATS_URL)/g)].map(
        ([read]) => `${file}: ${read}`,
      ),
    );
    expect(reads).toEqual([]);
  });

  test("the forward list reads the same in the config and for a unit; only an unset one falls back to the seed's list", () => {
    const value = " PATH, GIT_AUTHOR_NAME,,HOME";
    expect(parseForwardEnv(value)).toEqual([...loadConfig({ CODEX_FLOW_BACKEND_FORWARD_ENV: value }).forwardEnv!]);
    expect(loadConfig({ CODEX_FLOW_BACKEND_FORWARD_ENV: " , " }).forwardEnv).toBeUndefined();
    expect(parseForwardEnv(" , ")).toContain("PATH");
  });
});

describe("loadConfig: the publish deadline and the spool (issue 24)", () => {
  test("given nothing set, then writes ride out 8 s and there is no spool (256 MiB bound when one is set)", () => {
    const config = loadConfig({ CODEX_FLOW_BACKEND_CWD: CWD });
    expect(config).toMatchObject({ publishDeadlineMs: 8_000, spoolMaxBytes: 256 * 1024 * 1024 });
    expect(config.spoolDir).toBeUndefined();
  });

  test("given a relative spool directory, then it is under the working directory; a bad deadline or bound names its variable", () => {
    expect(loadConfig({ CODEX_FLOW_BACKEND_CWD: CWD, CODEX_FLOW_INGRESS_SPOOL: "spool" }).spoolDir).toBe(
      join(CWD, "spool"),
    );
    expect(() => loadConfig({ CODEX_FLOW_BACKEND_CWD: CWD, CODEX_FLOW_PUBLISH_DEADLINE_MS: "8s" })).toThrow(
      ConfigError,
    );
    expect(() => loadConfig({ CODEX_FLOW_BACKEND_CWD: CWD, CODEX_FLOW_INGRESS_SPOOL_MAX_BYTES: "100" })).toThrow(
      /CODEX_FLOW_INGRESS_SPOOL_MAX_BYTES="100" is invalid/,
    );
  });
});

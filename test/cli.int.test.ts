import { describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../lib/nats/nats-server.ts";
import { echoStep, writeFlows } from "./support/flows.ts";
import { REPO, useProcesses } from "./support/processes.ts";
import { tableRows } from "./support/table.ts";
import { tempDir } from "./support/temp.ts";

const cli = useProcesses();
const GREET = "flows/example-flow/events/greet.json";

/** Writes flow "broken" into `cwd`: its step "go" names an unknown runner (python), so it does not load. Returns its folder. */
function writeBrokenFlow(cwd: string): string {
  const broken = join(cwd, "flows", "broken");
  mkdirSync(join(broken, "exec"), { recursive: true });
  writeFileSync(join(broken, "exec", "go.ts"), "console.log('FLOW_RESULT {}')\n");
  writeFileSync(
    join(broken, "flow.toml"),
    'name = "broken"\n\n[[steps]]\nname = "go"\nrunner = "python"\nscript = "exec/go.ts"\n\n[steps.trigger]\ntype = "demo.hello"\n',
  );
  return broken;
}

describe("flow list", () => {
  test("given the repository, when listed, then example-flow and its greet step are shown and the exit code is 0", async () => {
    const { code, stdout, stderr } = await cli.run(["list"]);
    expect(code).toBe(0);
    expect(stdout.split("\n")[0]).toMatch(
      /^FLOW +VERSION +STEP +TRIGGER +SCHEMA +RUNNER +SCRIPT +SCHEDULE +PAUSED +ROOT +DESCRIPTION$/,
    );
    expect(tableRows(stdout).find((row) => row.FLOW === "example-flow")).toEqual({
      FLOW: "example-flow",
      VERSION: "1",
      STEP: "greet",
      TRIGGER: "example.greet",
      SCHEMA: "schemas/greet.schema.json",
      RUNNER: "bun",
      SCRIPT: "exec/greet.ts",
      SCHEDULE: "-",
      // No ingress answers at the default --url: not known.
      PAUSED: "-",
      ROOT: "flows/example-flow",
      DESCRIPTION: "Greets whoever an example.greet event names; the smallest working flow.",
    });
    expect(stderr).not.toContain("problem");
  });

  test("given the repository, when listed, then the release flow openai-codex-bindings is shown beside example-flow", async () => {
    const { code, stdout } = await cli.run(["list"]);
    expect(code).toBe(0);
    expect(tableRows(stdout).find((row) => row.FLOW === "openai-codex-bindings")).toMatchObject({
      STEP: "regenerate-bindings",
      TRIGGER: "upstream.release",
      SCHEMA: "schemas/upstream-release.schema.json",
      RUNNER: "bun",
      SCRIPT: "exec/update-bindings.ts",
      ROOT: "flows/openai-codex-bindings",
    });
    // A debounced step says so in its trigger; --json keeps the absolute folder.
    expect(tableRows(stdout).find((row) => row.STEP === "rebuild-on-main")?.TRIGGER).toBe(
      "upstream.branch_update (debounced 300000 ms by payload.branch)",
    );
    const flows = (await cli.run(["list", "--json"])).stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(flows.find((f) => f.name === "openai-codex-bindings")?.root).toBe(join(REPO, "flows/openai-codex-bindings"));
  });

  test("given a cwd with one broken manifest, when listed, then it exits 1 naming the path and field and still lists the good flow", async () => {
    const cwd = writeFlows({ good: [{ name: "hello", type: "demo.hello", source: echoStep() }] });
    const broken = writeBrokenFlow(cwd);

    const { code, stdout, stderr } = await cli.run(["list", "--cwd", cwd]);
    expect(code).toBe(1);
    expect(tableRows(stdout).map((row) => [row.FLOW, row.STEP, row.TRIGGER, row.RUNNER, row.SCRIPT])).toEqual([
      ["good", "hello", "demo.hello", "bun", "exec/hello.ts"],
    ]);
    expect(stderr).toContain(
      `problem: ${join(broken, "flow.toml")}: steps[0].runner: expected one of "bun", "code-mode", got string "python"`,
    );
  });

  test("given schedules, when listed, then each is on the row of the step that takes its event, or on a row of its own", async () => {
    const cwd = writeFlows({ clock: [{ name: "tick", type: "clock.tick", source: echoStep() }] });
    const manifest = join(cwd, "flows", "clock", "flow.toml");
    writeFileSync(
      manifest,
      `${readFileSync(manifest, "utf8")}
[[schedules]]
name = "hourly"
cron = "0 * * * *"
event = { type = "clock.tick" }

[[schedules]]
name = "nightly"
cron = "0 3 * * *"
timezone = "Europe/Berlin"
event = { type = "clock.elsewhere" }
`,
    );
    const { code, stdout } = await cli.run(["list", "--cwd", cwd]);
    expect(code).toBe(0);
    expect(tableRows(stdout).map((row) => [row.STEP, row.TRIGGER, row.SCHEDULE])).toEqual([
      ["tick", "clock.tick", 'hourly "0 * * * *" UTC'],
      ["-", "-", 'nightly "0 3 * * *" Europe/Berlin -> clock.elsewhere'],
    ]);
  });

  test("given CODEX_FLOW_BACKEND_CWD, when listed from elsewhere, then the flows of that directory are shown", async () => {
    const cwd = writeFlows({ elsewhere: [{ name: "only-here", type: "demo.here", source: echoStep() }] });
    const { code, stdout } = await cli.run(["list"], { cwd: tmpdir(), env: { CODEX_FLOW_BACKEND_CWD: cwd } });
    expect(code).toBe(0);
    expect(tableRows(stdout).map((row) => `${row.FLOW}/${row.STEP}`)).toEqual(["elsewhere/only-here"]);
  });
});

describe("flow fire and flow run, locally without NATS", () => {
  // No NATS_URL and a port nothing listens on: these commands must not need a server.
  const offline = async () => ({ NATS_URL: `nats://127.0.0.1:${await freePort()}` });

  test("given the example event, when fired, then the greet step runs here and completes with its message", async () => {
    const { code, stdout, stderr } = await cli.run(["fire", "--event", GREET], { env: await offline() });
    expect(code).toBe(0);
    expect(stderr).toMatch(/running example-flow\/greet \(run-[0-9a-f]+\) for event example-1/);
    expect(stdout).toContain("example-flow@1 step greet: greeting world for event example-1");
    expect(stdout).toMatch(/example-flow\/greet: completed result=completed "hello, world" in \d+ ms/);
  });

  test("given an event no step matches, when fired, then it says so and why, and exits 3 (docs/cli.md)", async () => {
    const dir = tempDir("codex-flows-event-");
    writeFileSync(join(dir, "other.json"), JSON.stringify({ id: "other-1", type: "nobody.listens", payload: {} }));
    const { code, stdout } = await cli.run(["fire", "--event", join(dir, "other.json")]);
    expect(code).toBe(3);
    expect(stdout).toContain("no step matched event other-1 (nobody.listens)");
    expect(stdout).toContain("example-flow/greet:");
  });

  test("given a failing step, when fired, then it exits 1 and prints the failure", async () => {
    const cwd = writeFlows({
      sad: [{ name: "fail", type: "demo.fail", source: "console.log('no result line'); process.exit(3);\n" }],
    });
    writeFileSync(join(cwd, "event.json"), JSON.stringify({ id: "sad-1", type: "demo.fail" }));
    const { code, stdout } = await cli.run(["fire", "--event", "event.json"], { cwd });
    expect(code).toBe(1);
    expect(stdout).toMatch(/sad\/fail: failed/);
  });

  test("given example-flow greet, when run by name, then that step completes", async () => {
    const { code, stdout } = await cli.run(["run", "example-flow", "greet", "--event", GREET], {
      env: await offline(),
    });
    expect(code).toBe(0);
    expect(stdout).toContain('FLOW_RESULT {"status":"completed","message":"hello, world"}');
    expect(stdout).toMatch(/example-flow\/greet: completed/);
  });

  test("given a step that does not exist, when run, then it exits 2 naming the flow and step", async () => {
    const { code, stdout, stderr } = await cli.run(["run", "example-flow", "nope", "--event", GREET]);
    expect(code).toBe(2);
    expect(stderr).toContain('no step "nope" in flow "example-flow"');
    expect(stdout).not.toContain("completed");
  });

  test("given a step whose flow did not load, when run, then it exits 2 saying why it did not load", async () => {
    const cwd = tempDir("codex-flows-cwd-");
    const broken = writeBrokenFlow(cwd);
    writeFileSync(join(cwd, "event.json"), JSON.stringify({ id: "b-1", type: "demo.hello" }));
    const { code, stderr } = await cli.run(["run", "broken", "go", "--event", "event.json"], { cwd });
    expect(code).toBe(2);
    expect(stderr).toContain(`flow broken not loaded: ${join(broken, "flow.toml")}: steps[0].runner: expected one of`);
  });

  test("given run without FLOW and STEP, when started, then it exits 2 showing the expected form", async () => {
    const { code, stderr } = await cli.run(["run", "--event", GREET]);
    expect(code).toBe(2);
    expect(stderr).toContain("expected FLOW and STEP");
  });

  test("given an --event file that does not exist, when fired, then it exits 2 naming the file", async () => {
    const { code, stderr } = await cli.run(["fire", "--event", "no/such/event.json"]);
    expect(code).toBe(2);
    expect(stderr).toContain("--event no/such/event.json: no such file");
  });

  test("given no --event at all, when fired, then it exits 2 saying --event is required", async () => {
    const { code, stderr } = await cli.run(["fire"]);
    expect(code).toBe(2);
    expect(stderr).toContain("--event FILE is required");
  });

  test("given an --event file that is not a FlowEvent, when fired, then it exits 2 naming the missing field", async () => {
    const dir = tempDir("codex-flows-event-");
    writeFileSync(join(dir, "bad.json"), JSON.stringify({ type: "example.greet" }));
    const { code, stderr } = await cli.run(["fire", "--event", join(dir, "bad.json")]);
    expect(code).toBe(2);
    expect(stderr).toContain("not a FlowEvent");
    expect(stderr).toContain("id");
  });
});

describe("usage mistakes and help", () => {
  test("given --help, when flow runs, then it exits 0 and describes every command", async () => {
    const { code, stdout } = await cli.run(["--help"]);
    expect(code).toBe(0);
    for (const command of [
      "list",
      "fire --event FILE",
      "run FLOW STEP --event FILE",
      "dev [--example] [--require-durable]",
      "serve <ingress|matcher|executor|projector|all> [--require-durable]",
      "publish --event FILE",
      "runs [--event ID]",
      "logs RUN [-f]",
      "cancel RUN",
      "retry RUN",
      "replay EVENT",
      "projector rebuild",
    ]) {
      expect(stdout).toContain(command);
    }
  });

  test("given --help after a command, when flow runs, then it exits 0 with that command's own help", async () => {
    const { code, stdout } = await cli.run(["list", "--help"]);
    expect(code).toBe(0);
    expect(stdout).toContain("Usage: bun run flow list [options]");
    expect(stdout).toContain("bun run flow <command> --help");
  });

  test("given --help, when flow:backend runs, then it exits 0 and describes serve and --cwd", async () => {
    const { code, stdout } = await cli.run(["--help"], { entry: "bin/flow-backend.ts" });
    expect(code).toBe(0);
    expect(stdout).toContain("Usage: bun run flow:backend serve [--cwd DIR] [--port N] [--require-durable]");
  });

  test("given no command, when flow runs, then it prints the help and exits 2", async () => {
    const { code, stdout } = await cli.run([]);
    expect(code).toBe(2);
    expect(stdout).toContain("Usage: bun run flow <command>");
  });

  test("given an unknown flag, when flow list runs, then it exits 2 naming the flag", async () => {
    const { code, stdout, stderr } = await cli.run(["list", "--bogus"]);
    expect(code).toBe(2);
    expect(stderr).toContain("--bogus");
    expect(stdout).not.toContain("example-flow");
  });

  test("given an unknown command, when flow runs, then it exits 2 naming the command", async () => {
    const { code, stderr } = await cli.run(["lsit"]);
    expect(code).toBe(2);
    expect(stderr).toContain('unknown command "lsit"');
    expect(stderr).toContain("--help");
  });

  test("given an unknown service, when flow serve runs, then it exits 2 listing the services", async () => {
    const { code, stderr } = await cli.run(["serve", "nonsense"]);
    expect(code).toBe(2);
    expect(stderr).toContain('unknown service "nonsense": expected one of ingress, matcher, executor, projector, all');
  });

  test("given an unknown command, when flow:backend runs, then it exits 2 saying serve is expected", async () => {
    const { code, stderr } = await cli.run(["start"], { entry: "bin/flow-backend.ts" });
    expect(code).toBe(2);
    expect(stderr).toContain('unknown command "start": expected serve');
  });

  test("given --port out of range, when flow serve runs, then it exits 2 naming --port", async () => {
    const { code, stderr } = await cli.run(["serve", "ingress", "--port", "99999"]);
    expect(code).toBe(2);
    expect(stderr).toContain("--port 99999: expected an integer from 0 to 65535");
  });

  test("given --port that is not a number, when flow:backend serve runs, then it exits 2 naming --port before connecting", async () => {
    const env = {
      NATS_URL: `nats://127.0.0.1:${await freePort()}`,
      CODEX_FLOW_BACKEND_DATA_DIR: tempDir("codex-flows-data-"),
    };
    const { code, stderr } = await cli.run(["serve", "--port", "abc"], { entry: "bin/flow-backend.ts", env });
    expect(stderr).toContain("--port abc");
    expect(code).toBe(2);
  });

  test("given CODEX_FLOW_BACKEND_PORT=abc, when flow serve ingress runs, then it exits non-zero naming the variable", async () => {
    const env = { CODEX_FLOW_BACKEND_PORT: "abc", NATS_URL: `nats://127.0.0.1:${await freePort()}` };
    const { code, stderr } = await cli.run(["serve", "ingress"], { env });
    expect(code).not.toBe(0);
    expect(stderr).toContain('CODEX_FLOW_BACKEND_PORT="abc" is invalid: expected an integer from 0 to 65535');
  });

  test("given CODEX_FLOW_BACKEND_EXECUTOR=docker, when flow dev runs, then it exits 2 naming the variable before starting anything", async () => {
    const env = { CODEX_FLOW_BACKEND_EXECUTOR: "docker", CODEX_FLOW_BACKEND_DATA_DIR: tempDir("codex-flows-data-") };
    const { code, stderr } = await cli.run(["dev"], { env });
    expect(code).toBe(2);
    expect(stderr).toContain('CODEX_FLOW_BACKEND_EXECUTOR="docker" is invalid: expected one of direct, systemd-run');
  });
});

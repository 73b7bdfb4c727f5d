// A warm step through the whole system: events posted to the ingress run the example
// flow test/fixtures/warm-flow on one warm worker, to completed.
import { beforeAll, describe, expect, test } from "bun:test";
import { cpSync } from "node:fs";
import { join } from "node:path";
import { signBody } from "../lib/signature.ts";
import type { RunningSystem } from "../services/runtime/system.ts";
import { json } from "./support/http.ts";
import { testConfig, useNatsServer } from "./support/nats.ts";
import { startTestSystem } from "./support/system.ts";
import { tempDir } from "./support/temp.ts";

const nats = useNatsServer();
const SECRET = "warm-secret";
let system: RunningSystem;
let url: string;

beforeAll(async () => {
  const cwd = tempDir("warm-flow-");
  cpSync(join(import.meta.dir, "fixtures", "warm-flow"), cwd, { recursive: true });
  system = await startTestSystem(nats, testConfig({ cwd, secret: SECRET }));
  url = system.ingressUrl!;
});

async function post(id: string, name: string) {
  const body = JSON.stringify({ id, type: "hello.warm", payload: { name } });
  const response = await fetch(`${url}/events?wait=true`, {
    method: "POST",
    body,
    headers: { "content-type": "application/json", "x-flow-signature-256": signBody(SECRET, body) },
  });
  expect(response.status).toBe(202);
  return (await json(response)) as { runIds: string[]; runs: { status: string }[] };
}

describe("a warm step through the system", () => {
  test("events run the warm step to completed, the second on the worker the first started", async () => {
    const first = await post("warm-1", "ada");
    const second = await post("warm-2", "grace");
    expect(first.runs.map((r) => r.status)).toEqual(["completed"]);
    expect(second.runs.map((r) => r.status)).toEqual(["completed"]);
    const run = async (runId: string) => {
      const listed = (await json(
        fetch(`${url}/runs?eventId=${encodeURIComponent(runId === first.runIds[0] ? "warm-1" : "warm-2")}`),
      )) as { runs: { runId: string; result?: { artifacts?: { runs: number; runId: string } } }[] };
      return listed.runs.find((r) => r.runId === runId)!;
    };
    const [a, b] = [await run(first.runIds[0]!), await run(second.runIds[0]!)];
    expect(a.result?.artifacts).toEqual({ runs: 1, runId: first.runIds[0]! });
    expect(b.result?.artifacts).toEqual({ runs: 2, runId: second.runIds[0]! });
  });
});

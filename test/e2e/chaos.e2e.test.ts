import { Database } from "bun:sqlite";
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { type EventAccepted, encodeMessage } from "../../lib/messages.ts";
import { type EmbeddedNats, startNatsServer } from "../../lib/nats-server.ts";
import { Deployment, type Json, killLeftoverSteps, prng, tempDir, withOutput } from "../support/cluster.ts";
import { writeFlows } from "../support/flows.ts";
import { json } from "../support/http.ts";
import { ingressUrlOf, serviceEnv, useProcesses } from "../support/processes.ts";

// Nothing lost, nothing stuck: a steady load of events while every service in turn is
// killed with SIGKILL and started again (same environment, same data directory), then
// the nats-server itself is restarted on the same port and store. Sized for CI: about
// 25 s of load, one kill per service, on 2 cores. CHAOS_SEED=<n> repeats a run.
setDefaultTimeout(110_000);
const cli = useProcesses();

const SEED = Number(process.env.CHAOS_SEED ?? Date.now() % 1_000_000);
const RATE_PER_S = 20;
const ACK_WAIT_MS = 3_000;
// A healthy deployment settles within a few seconds (a lost attempt waits one ack wait); a stalled one does not.
const QUIESCENCE_MS = 20_000;
const FINAL = ["completed", "failed", "timed_out", "canceled"];
// Killed and started again in this order, each at a random moment; then the nats-server.
const VICTIMS = ["ingress", "matcher", "exec-1", "projector", "exec-2"];

let server: EmbeddedNats | undefined;
let deployment: Deployment | undefined;
let flowsDir = "";
let executionLog = "";
afterAll(async () => {
  await cli.stopAll();
  await server?.stop();
  // Steps of an executor killed mid-step run on by themselves (they lead their own process group).
  if (executionLog && existsSync(executionLog)) killLeftoverSteps(readExecutions(executionLog).map((e) => e.pid), flowsDir);
  deployment?.removeTempDirs();
});

type Sent = { id: string; from: number; to: number; status?: number; body?: Json; error?: string; kind?: string };
type Execution = { runId: string; attempt: number; host: string; pid: number; step: string; at: number };
type Kill = { role: string; at: number; readyAt: number };

function readExecutions(path: string): Execution[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Execution);
}

/** One POST, recorded whatever happens: the status and JSON body, or how the connection failed. */
async function send(url: string, id: string): Promise<Sent> {
  const from = Date.now();
  try {
    // No keep-alive: a pooled socket to a killed ingress would fail a request sent after the new one is up.
    const response = await fetch(`${url}/events`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id, type: "chaos.tick", payload: { napMs: 150 } }),
      keepalive: false,
      signal: AbortSignal.timeout(15_000),
    });
    const text = await response.text();
    let body: Json;
    try {
      body = JSON.parse(text);
    } catch {
      body = { unparsable: text };
    }
    return { id, from, to: Date.now(), status: response.status, body };
  } catch (error) {
    const code = (error as { code?: string }).code;
    const kind = code === "ECONNREFUSED" || code === "ConnectionRefused" ? "connection refused" : `connection error ${code ?? (error as Error).name}`;
    return { id, from, to: Date.now(), kind, error: `${kind}: ${(error as Error).message}` };
  }
}

/** The step scripts: each execution appends one line to `log` (one small O_APPEND write is atomic), then does its work. */
function chaosFlows(log: string, cwd: string): string {
  const record = (step: string) => `import { appendFileSync } from "node:fs";
const input = JSON.parse(await Bun.stdin.text());
appendFileSync(${JSON.stringify(log)}, JSON.stringify({ runId: process.env.CODEX_FLOW_RUN_ID, attempt: Number(process.env.CODEX_FLOW_ATTEMPT), host: process.env.CODEX_FLOW_HOST_ID, pid: process.pid, step: ${JSON.stringify(step)}, at: Date.now() }) + "\\n");
`;
  const result = `console.log("FLOW_RESULT " + JSON.stringify({ status: "completed" }));\n`;
  return writeFlows(
    {
      chaos: [
        { name: "trivial", type: "chaos.tick", source: `${record("trivial")}${result}` },
        { name: "nap", type: "chaos.tick", source: `${record("nap")}await Bun.sleep(input.flow.event.payload.napMs);\n${result}` },
      ],
    },
    cwd,
  );
}

test(`given a steady load of events, when every service and then the nats-server is killed and restarted (seed ${SEED}), then nothing is lost and nothing is stuck`, async () => {
  console.log(`chaos seed ${SEED} (CHAOS_SEED=${SEED} repeats it)`);
  const rand = prng(SEED);
  const started = Date.now();
  const storeDir = mkdtempSync(join(tmpdir(), "codex-flows-e2e-nats-"));
  server = await startNatsServer({ storeDir });
  const natsUrl = server.url;
  const env = await serviceEnv(natsUrl, { CODEX_FLOW_ACK_WAIT_MS: String(ACK_WAIT_MS), CODEX_FLOW_EXECUTOR_CONCURRENCY: "6", CODEX_FLOW_PUBLISH_TIMEOUT_MS: "2000" });
  const d = new Deployment(cli, env);
  deployment = d;
  d.tempDirs.push(storeDir);
  executionLog = join(tempDir(d, "codex-flows-e2e-chaos-"), "executions.log");
  flowsDir = chaosFlows(executionLog, tempDir(d, "codex-flows-e2e-cwd-"));
  env.CODEX_FLOW_BACKEND_CWD = flowsDir;
  const report: Record<string, unknown> = { seed: SEED };

  await withOutput(d, async () => {
    try {
      await d.start("projector", "projector");
      await Promise.all([d.start("matcher", "matcher"), d.start("ingress", "ingress"), d.start("exec-1", "executor", { CODEX_FLOW_HOST_ID: "exec-1" }), d.start("exec-2", "executor", { CODEX_FLOW_HOST_ID: "exec-2" })]);
      const url = await ingressUrlOf(d.proc("ingress"));

      // The sender: one event every 1/RATE s, unique ids, never waiting for an earlier answer.
      const sent: Promise<Sent>[] = [];
      const sender = setInterval(() => sent.push(send(url, `chaos-${SEED}-${sent.length + 1}`)), 1_000 / RATE_PER_S);
      const kills: Kill[] = [];
      try {
        await Bun.sleep(1_500);
        for (const role of VICTIMS) {
          await Bun.sleep(1_000 + rand() * 2_000);
          const at = Date.now();
          await d.signal(role, "SIGKILL");
          await Bun.sleep(rand() * 1_000);
          await d.restart(role);
          kills.push({ role, at, readyAt: Date.now() });
        }
        await Bun.sleep(1_000 + rand() * 2_000);
        const from = Date.now();
        const port = server!.port;
        await server!.stop();
        server = undefined;
        await Bun.sleep(rand() * 1_000);
        server = await startNatsServer({ port, storeDir });
        report.natsRestart = `down at +${from - started} ms, back at +${Date.now() - started} ms`;
        // Load goes on after the restart: every service has to pick up from where it was.
        await Bun.sleep(3_000);
      } finally {
        clearInterval(sender);
        report.kills = kills.map((k) => `${k.role} at +${k.at - started} ms, back at +${k.readyAt - started} ms`);
      }
      const answers = await Promise.all(sent);
      Object.assign(report, { loadSeconds: Math.round((Date.now() - started) / 1000), eventsSent: answers.length, accepted202: answers.filter((a) => a.status === 202).length });

      await everyAnswerIsClear(answers, kills, report);
      await retriesAreAccepted(url, answers, report);
      await quiescence(natsUrl, env, report);
      await nothingLost(url, answers.map((a) => a.id), kills, report);
    } finally {
      report.seconds = Math.round((Date.now() - started) / 1000);
      console.log(`chaos summary: ${JSON.stringify(report, null, 2)}`);
    }
  });
});

/** How a request that did not get a 202 ended, for the summary. */
const kindOf = (s: Sent) => s.kind ?? `${s.status} ${String(s.body?.error ?? "").replace(/\(.*/, "").trim().slice(0, 60)}`;

/** Every answer that is not a 202 says what happened: a JSON error telling the sender to retry, or no connection while the ingress was down. */
async function everyAnswerIsClear(answers: Sent[], kills: Kill[], report: Record<string, unknown>) {
  const ingressDown = (s: Sent) => kills.some((k) => k.role === "ingress" && s.to >= k.at && s.from <= k.readyAt);
  const byKind: Record<string, number> = {};
  const unclear: Sent[] = [];
  for (const answer of answers) {
    if (answer.status === 202) continue;
    byKind[kindOf(answer)] = (byKind[kindOf(answer)] ?? 0) + 1;
    const clearHttp = answer.status === 503 && typeof answer.body?.error === "string" && /retry later/.test(answer.body.error);
    const clearConnection = answer.error !== undefined && ingressDown(answer);
    if (!clearHttp && !clearConnection) unclear.push(answer);
  }
  report.errorsByKind = byKind;
  expect(unclear).toEqual([]);
}

/** The sender retries what it was told to retry, now that everything is up: each id is accepted, or turns out stored after all ("duplicate"). */
async function retriesAreAccepted(url: string, answers: Sent[], report: Record<string, unknown>) {
  const outcomes: Record<string, number> = {};
  for (const answer of answers.filter((a) => a.status !== 202)) {
    const again = await send(url, answer.id);
    expect({ id: again.id, status: again.status, error: again.error }).toEqual({ id: answer.id, status: 202, error: undefined });
    expect(["accepted", "duplicate"]).toContain(again.body.status);
    const key = `${again.body.status} after ${kindOf(answer)}`;
    outcomes[key] = (outcomes[key] ?? 0) + 1;
  }
  report.retried = outcomes;
}

/** Waits (bounded) until the read model applied the whole stream, every event is matched, no run waits or runs, and no consumer holds anything. */
async function quiescence(natsUrl: string, env: Record<string, string | undefined>, report: Record<string, unknown>) {
  const stream = env.CODEX_FLOW_STREAM!;
  const readModel = join(env.CODEX_FLOW_BACKEND_DATA_DIR!, "read-model.sqlite");
  const nc = await connect({ servers: natsUrl });
  const since = Date.now();
  try {
    const jsm = await jetstreamManager(nc);
    for (;;) {
      const streamSeq = (await jsm.streams.info(stream)).state.last_seq;
      const consumers = await Promise.all(["matcher", "executor-any"].map((name) => jsm.consumers.info(stream, name)));
      const db = new Database(readModel, { readonly: true });
      let state: { streamSeq: number; appliedSeq: number; unmatched: number; unfinished: number; held: number };
      try {
        const one = (sql: string) => (db.query(sql).get() as { n: number | null }).n ?? 0;
        state = {
          streamSeq,
          appliedSeq: one("SELECT max(seq) AS n FROM projector_state"),
          unmatched: one("SELECT count(*) AS n FROM events WHERE matched_at IS NULL"),
          unfinished: one(`SELECT count(*) AS n FROM runs WHERE status NOT IN (${FINAL.map((s) => `'${s}'`).join(",")})`),
          held: consumers.reduce((sum, c) => sum + c.num_pending + c.num_ack_pending, 0),
        };
      } finally {
        db.close();
      }
      report.quiescence = { ...state, afterMs: Date.now() - since };
      if (state.appliedSeq >= state.streamSeq && state.unmatched === 0 && state.unfinished === 0 && state.held === 0) return;
      if (Date.now() - since > QUIESCENCE_MS) throw new Error(`no quiescence within ${QUIESCENCE_MS} ms: ${JSON.stringify(state)}`);
      await Bun.sleep(200);
    }
  } finally {
    await nc.close();
  }
}

/**
 * Every accepted event is in the read model (GET /events/:id) with both its runs, each
 * completed; every execution of a step is an attempt the read model shows, on the host
 * that ran it; and a step ran more than once only where its executor was killed after
 * the earlier attempt started (that attempt shows `lost`).
 */
async function nothingLost(url: string, ids: string[], kills: Kill[], report: Record<string, unknown>) {
  const executionsOf = new Map<string, Execution[]>();
  for (const e of readExecutions(executionLog)) executionsOf.set(e.runId, [...(executionsOf.get(e.runId) ?? []), e]);
  const problems: string[] = [];
  let runs = 0;
  let rerun = 0;
  let earlier = 0;
  const answers = await Promise.all(ids.map(async (id) => ({ id, response: await fetch(`${url}/events/${encodeURIComponent(id)}`) })));
  for (const { id, response } of answers) {
    if (response.status !== 200) {
      problems.push(`event ${id}: GET /events/${id} answered ${response.status} ${await response.text()}`);
      continue;
    }
    const detail = (await response.json()) as { runs: Json[] };
    if (detail.runs.length !== 2) problems.push(`event ${id}: ${detail.runs.length} runs, expected 2 (trivial and nap)`);
    for (const run of detail.runs) {
      runs++;
      if (run.status !== "completed") problems.push(`run ${run.id} (${id}) is ${run.status}, expected completed: ${run.error}`);
      const attempts: Json[] = run.attempts;
      const ran = executionsOf.get(run.id) ?? [];
      if (ran.length === 0) problems.push(`run ${run.id} (${id}) is ${run.status} but its step never ran`);
      if (ran.length > 1) rerun++;
      const numbers = ran.map((e) => e.attempt);
      if (new Set(numbers).size !== numbers.length) problems.push(`run ${run.id}: one attempt number ran twice (${numbers.join(", ")})`);
      for (const e of ran) {
        const shown = attempts.find((a) => a.attemptNumber === e.attempt);
        if (!shown || shown.host !== e.host) problems.push(`run ${run.id}: ${e.step} ran as attempt ${e.attempt} on ${e.host}; the read model shows ${JSON.stringify(shown ?? null)}`);
      }
      const last = attempts.at(-1);
      if (!last || last.attemptNumber !== run.attempt || last.status !== "completed") problems.push(`run ${run.id}: its last attempt ${JSON.stringify(last ?? null)} is not the completed attempt ${run.attempt}`);
      for (const a of attempts.slice(0, -1)) {
        earlier++;
        // Executor roles are named after their host ids; only SIGKILL is used here, so `lost` is the only explanation.
        const killed = kills.some((k) => k.role === a.host && k.at >= Date.parse(a.startedAt));
        if (a.status !== "lost" || !killed) problems.push(`run ${run.id}: attempt ${a.attemptNumber} is ${a.status} on ${a.host} (started ${a.startedAt}), not explained by a kill of its executor`);
      }
    }
  }
  Object.assign(report, { runs, runsThatRanMoreThanOnce: rerun, attemptsBeforeTheLast: earlier, problems: problems.length });
  expect(problems).toEqual([]);
  expect(runs).toBe(2 * ids.length);
}

describe("the read model after a burst", () => {
  // The projector commits a batch once the client's iterator says nothing more is pending;
  // the last messages of a burst must not wait in an uncommitted batch for a next message
  // that may never come. The bursts are published straight to the stream (as any writer's,
  // e.g. the executors' or the nats CLI's, arrive), fast enough to arrive in chunks.
  test("given bursts of messages and then silence, then after each burst the read model applies the stream's last message without further traffic", async () => {
    const nats = await startNatsServer();
    const env = await serviceEnv(nats.url, { CODEX_FLOW_WAIT_TIMEOUT_MS: "5000" });
    const d = new Deployment(cli, env);
    env.CODEX_FLOW_BACKEND_CWD = writeFlows({ quiet: [{ name: "never", type: "never.sent", source: "" }] }, tempDir(d, "codex-flows-e2e-cwd-"));
    const rand = prng(SEED);
    try {
      await withOutput(d, async () => {
        await d.start("projector", "projector");
        const url = await ingressUrlOf(await d.start("ingress", "ingress"));
        const nc = await connect({ servers: nats.url });
        const js = jetstream(nc);
        const stuck: string[] = [];
        let total = 0;
        try {
          for (let burst = 1; burst <= 20; burst++) {
            const size = 1 + Math.floor(rand() * 400);
            const now = new Date().toISOString();
            const acks = await Promise.all(
              Array.from({ length: size }, (_, i) => {
                const message: EventAccepted = { v: 1, kind: "event.accepted", event: { id: `burst-${burst}-${i}`, type: "burst.tick", receivedAt: now, payload: {} }, acceptedAt: now };
                return js.publish(`${env.CODEX_FLOW_SUBJECT_PREFIX}.events.burst.tick`, encodeMessage(message));
              }),
            );
            total += size;
            const last = Math.max(...acks.map((ack) => ack.seq));
            // Read-your-writes: answers once the read model applied `last`, 503 after the 5 s wait bound.
            const response = await fetch(`${url}/events?limit=1&after=${last}`);
            if (response.status !== 200) {
              const health = await json(fetch(`${url}/healthz`));
              stuck.push(`burst ${burst} (${size} messages): stream at ${last}, read model at ${health.projector.appliedSeq} 5 s later`);
            }
          }
        } finally {
          await nc.close();
        }
        console.log(`bursts: ${total} messages in 20 bursts (seed ${SEED}); ${stuck.length} left the read model behind`);
        expect(stuck).toEqual([]);
      });
    } finally {
      for (const role of d.roles.keys()) if (d.running(role)) await d.signal(role, "SIGTERM").catch(() => undefined);
      await nats.stop();
      d.removeTempDirs();
    }
  });
});

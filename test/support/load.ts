import { Database } from "bun:sqlite";
import { expect } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { eventToken } from "../../lib/protocol/subjects.ts";
import type { Json } from "./cluster.ts";
import { writeFlows } from "./flows.ts";

// A steady load of events against a deployment whose parts are being killed or restarted,
// and the checks that follow it: every answer was clear, nothing was lost, nothing is stuck,
// and a step ran more than once only where a recorded disruption explains it.

export type Sent = {
  id: string;
  from: number;
  to: number;
  status?: number;
  body?: Json;
  error?: string;
  kind?: string;
};
export type Execution = { runId: string; attempt: number; host: string; pid: number; step: string; at: number };
/**
 * A disruption: a role (an executor role is named after its host id; a NATS node's role
 * starts with `nats-`) stopped at `at` (by `how`) and ready again at `readyAt`.
 */
export type Disruption = { role: string; at: number; readyAt: number; how: "SIGKILL" | "SIGTERM" };

export const LOAD_EVENT_TYPE = "chaos.tick";
const FINAL = ["completed", "failed", "timed_out", "canceled"];

/** The executions recorded by `loadFlows` steps, one JSON line each. */
export function readExecutions(path: string): Execution[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Execution);
}

/** One POST of a load event, recorded whatever happens: the status and JSON body, or how the connection failed. */
export async function send(url: string, id: string): Promise<Sent> {
  const from = Date.now();
  try {
    // No keep-alive: a pooled socket to a killed ingress would fail a request sent after the new one is up.
    const response = await fetch(`${url}/events`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id, type: LOAD_EVENT_TYPE, payload: { napMs: 150 } }),
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
    const kind =
      code === "ECONNREFUSED" || code === "ConnectionRefused"
        ? "connection refused"
        : `connection error ${code ?? (error as Error).name}`;
    return { id, from, to: Date.now(), kind, error: `${kind}: ${(error as Error).message}` };
  }
}

/** Sends one event every 1/ratePerS s (ids `<prefix>-<n>`), never waiting for an earlier answer, until `stop()`; which returns every answer. */
export function steadyLoad(url: () => string, prefix: string, ratePerS: number): { stop(): Promise<Sent[]> } {
  const sent: Promise<Sent>[] = [];
  const timer = setInterval(() => sent.push(send(url(), `${prefix}-${sent.length + 1}`)), 1_000 / ratePerS);
  return {
    async stop() {
      clearInterval(timer);
      return await Promise.all(sent);
    },
  };
}

/** The load's flows: two steps per event (trivial, and a 150 ms nap); each execution appends one line to `log` (one small O_APPEND write is atomic). */
export function loadFlows(log: string, cwd: string): string {
  const record = (step: string) => `import { appendFileSync } from "node:fs";
const input = JSON.parse(await Bun.stdin.text());
appendFileSync(${JSON.stringify(log)}, JSON.stringify({ runId: process.env.CODEX_FLOW_RUN_ID, attempt: Number(process.env.CODEX_FLOW_ATTEMPT), host: process.env.CODEX_FLOW_HOST_ID, pid: process.pid, step: ${JSON.stringify(step)}, at: Date.now() }) + "\\n");
`;
  const result = `console.log("FLOW_RESULT " + JSON.stringify({ status: "completed" }));\n`;
  return writeFlows(
    {
      chaos: [
        { name: "trivial", type: LOAD_EVENT_TYPE, source: `${record("trivial")}${result}` },
        {
          name: "nap",
          type: LOAD_EVENT_TYPE,
          source: `${record("nap")}await Bun.sleep(input.flow.event.payload.napMs);\n${result}`,
        },
      ],
    },
    cwd,
  );
}

/** How a request that did not get a 202 ended, for the summary. */
const kindOf = (s: Sent) =>
  s.kind ??
  `${s.status} ${String(s.body?.error ?? "")
    .replace(/\(.*/, "")
    .trim()
    .slice(0, 60)}`;

/** Every answer that is not a 202 says what happened: a JSON 503 telling the sender to retry, or no connection while the ingress was down. */
export function everyAnswerIsClear(answers: Sent[], disruptions: Disruption[], report: Record<string, unknown>): void {
  const ingressDown = (s: Sent) => disruptions.some((k) => k.role === "ingress" && s.to >= k.at && s.from <= k.readyAt);
  const byKind: Record<string, number> = {};
  const unclear: Sent[] = [];
  for (const answer of answers) {
    if (answer.status === 202) continue;
    byKind[kindOf(answer)] = (byKind[kindOf(answer)] ?? 0) + 1;
    const clearHttp =
      answer.status === 503 && typeof answer.body?.error === "string" && /retry later/.test(answer.body.error);
    const clearConnection = answer.error !== undefined && ingressDown(answer);
    if (!clearHttp && !clearConnection) unclear.push(answer);
  }
  report.errorsByKind = byKind;
  expect(unclear).toEqual([]);
}

/** The sender retries what it was told to retry, now that everything is up: each id is accepted, or turns out stored after all ("duplicate"). */
export async function retriesAreAccepted(url: string, answers: Sent[], report: Record<string, unknown>): Promise<void> {
  const outcomes: Record<string, number> = {};
  for (const answer of answers.filter((a) => a.status !== 202)) {
    const again = await send(url, answer.id);
    expect({ id: again.id, status: again.status, error: again.error }).toEqual({
      id: answer.id,
      status: 202,
      error: undefined,
    });
    expect(["accepted", "duplicate"]).toContain(again.body.status);
    const key = `${again.body.status} after ${kindOf(answer)}`;
    outcomes[key] = (outcomes[key] ?? 0) + 1;
  }
  report.retried = outcomes;
}

/** Waits (bounded) until the read model applied the whole stream, every event is matched, no run waits or runs, and no consumer holds anything. */
export async function quiescence(
  natsUrl: string,
  env: Record<string, string | undefined>,
  report: Record<string, unknown>,
  timeoutMs: number,
): Promise<void> {
  const stream = env.CODEX_FLOW_STREAM!;
  const readModel = join(env.CODEX_FLOW_BACKEND_DATA_DIR!, "read-model.sqlite");
  const nc = await connect({ servers: natsUrl.split(",") });
  const since = Date.now();
  try {
    const jsm = await jetstreamManager(nc);
    for (;;) {
      // Right after a node comes back, a JetStream API request can time out while its
      // stream or consumer groups elect leaders: that is "not quiet yet", asked again
      // until the deadline (whose error names the last such answer).
      let streamSeq: number;
      let consumers: { num_pending: number; num_ack_pending: number }[];
      try {
        streamSeq = (await jsm.streams.info(stream)).state.last_seq;
        consumers = await Promise.all(["matcher", "executor-any"].map((name) => jsm.consumers.info(stream, name)));
      } catch (err) {
        report.quiescence = { jetstreamUnanswered: String(err), afterMs: Date.now() - since };
        if (Date.now() - since > timeoutMs)
          throw new Error(`no quiescence within ${timeoutMs} ms: JetStream did not answer (${err})`);
        await Bun.sleep(200);
        continue;
      }
      const db = new Database(readModel, { readonly: true });
      let state: { streamSeq: number; appliedSeq: number; unmatched: number; unfinished: number; held: number };
      try {
        const one = (sql: string) => (db.query(sql).get() as { n: number | null }).n ?? 0;
        state = {
          streamSeq,
          appliedSeq: one("SELECT max(seq) AS n FROM projector_state"),
          unmatched: one("SELECT count(*) AS n FROM events WHERE matched_at IS NULL"),
          unfinished: one(
            `SELECT count(*) AS n FROM runs WHERE status NOT IN (${FINAL.map((s) => `'${s}'`).join(",")})`,
          ),
          held: consumers.reduce((sum, c) => sum + c.num_pending + c.num_ack_pending, 0),
        };
      } finally {
        db.close();
      }
      report.quiescence = { ...state, afterMs: Date.now() - since };
      if (state.appliedSeq >= state.streamSeq && state.unmatched === 0 && state.unfinished === 0 && state.held === 0)
        return;
      if (Date.now() - since > timeoutMs)
        throw new Error(
          `no quiescence within ${timeoutMs} ms: ${JSON.stringify(state)}; ${JSON.stringify(await whatIsStuck(jsm, stream, readModel, env.CODEX_FLOW_SUBJECT_PREFIX!))}`,
        );
      await Bun.sleep(200);
    }
  } finally {
    await nc.close();
  }
}

/** For a quiescence that did not come: the unmatched events and unfinished runs, what the stream holds for them, and the consumers' state. */
async function whatIsStuck(jsm: JetStreamManager, stream: string, readModel: string, prefix: string) {
  const db = new Database(readModel, { readonly: true });
  try {
    const unmatched = db.query("SELECT id, seq FROM events WHERE matched_at IS NULL LIMIT 5").all() as {
      id: string;
      seq: number;
    }[];
    const unfinished = db
      .query(
        `SELECT id, status, attempt, host, event_id FROM runs WHERE status NOT IN (${FINAL.map((s) => `'${s}'`).join(",")}) LIMIT 5`,
      )
      .all();
    const events = await Promise.all(
      unmatched.map(async (e) => {
        const matched = await jsm.streams
          .getMessage(stream, { last_by_subj: `${prefix}.matched.${eventToken(e.id)}` })
          .catch((error) => String(error));
        return { ...e, matchedInStream: typeof matched === "string" ? matched : matched ? matched.seq : "none" };
      }),
    );
    const consumers = await Promise.all(
      ["matcher", "executor-any"].map(async (name) => {
        const c = await jsm.consumers.info(stream, name);
        return {
          name,
          replicas: c.config.num_replicas,
          delivered: c.delivered.stream_seq,
          ackFloor: c.ack_floor.stream_seq,
          pending: c.num_pending,
          ackPending: c.num_ack_pending,
          redelivered: c.num_redelivered,
          leader: c.cluster?.leader,
        };
      }),
    );
    return { events, unfinished, consumers };
  } finally {
    db.close();
  }
}

/**
 * Whether a disruption explains an attempt that did not finish: its executor was killed
 * (`lost`) or stopped (`released`, or `lost` when it did not get to say so) after the
 * attempt started, or a NATS node went down while it ran (`fenced`: the executor could
 * not renew its lease, or `lost`).
 */
function explained(attempt: Json, disruptions: Disruption[]): boolean {
  const started = Date.parse(attempt.startedAt);
  return disruptions.some((d) => {
    if (d.role.startsWith("nats-")) return ["fenced", "lost"].includes(attempt.status) && d.readyAt >= started;
    if (d.role !== attempt.host || d.at < started) return false;
    return attempt.status === "lost" || (attempt.status === "released" && d.how === "SIGTERM");
  });
}

/**
 * Every accepted event is in the read model (GET /events/:id) with both its runs, each
 * completed; every execution of a step is an attempt the read model shows, on the host
 * that ran it; and a step ran more than once only where a disruption explains the
 * earlier attempt (`lost`, `released` or `fenced`, see `explained`).
 */
export async function nothingLost(
  url: string,
  ids: string[],
  disruptions: Disruption[],
  executionLog: string,
  report: Record<string, unknown>,
): Promise<void> {
  const executionsOf = new Map<string, Execution[]>();
  for (const e of readExecutions(executionLog)) executionsOf.set(e.runId, [...(executionsOf.get(e.runId) ?? []), e]);
  const problems: string[] = [];
  let runs = 0;
  let rerun = 0;
  let earlier = 0;
  const answers = await Promise.all(
    ids.map(async (id) => ({ id, response: await fetch(`${url}/events/${encodeURIComponent(id)}`) })),
  );
  for (const { id, response } of answers) {
    if (response.status !== 200) {
      problems.push(`event ${id}: GET /events/${id} answered ${response.status} ${await response.text()}`);
      continue;
    }
    const detail = (await response.json()) as { runs: Json[] };
    if (detail.runs.length !== 2)
      problems.push(`event ${id}: ${detail.runs.length} runs, expected 2 (trivial and nap)`);
    for (const run of detail.runs) {
      runs++;
      if (run.status !== "completed")
        problems.push(`run ${run.id} (${id}) is ${run.status}, expected completed: ${run.error}`);
      const attempts: Json[] = run.attempts;
      const ran = executionsOf.get(run.id) ?? [];
      if (ran.length === 0) problems.push(`run ${run.id} (${id}) is ${run.status} but its step never ran`);
      if (ran.length > 1) rerun++;
      const numbers = ran.map((e) => e.attempt);
      if (new Set(numbers).size !== numbers.length)
        problems.push(`run ${run.id}: one attempt number ran twice (${numbers.join(", ")})`);
      for (const e of ran) {
        const shown = attempts.find((a) => a.attemptNumber === e.attempt);
        if (!shown || shown.host !== e.host)
          problems.push(
            `run ${run.id}: ${e.step} ran as attempt ${e.attempt} on ${e.host}; the read model shows ${JSON.stringify(shown ?? null)}`,
          );
      }
      const last = attempts.at(-1);
      if (!last || last.attemptNumber !== run.attempt || last.status !== "completed")
        problems.push(
          `run ${run.id}: its last attempt ${JSON.stringify(last ?? null)} is not the completed attempt ${run.attempt}`,
        );
      for (const a of attempts.slice(0, -1)) {
        earlier++;
        if (!explained(a, disruptions))
          problems.push(
            `run ${run.id}: attempt ${a.attemptNumber} is ${a.status} on ${a.host} (started ${a.startedAt}), not explained by a disruption`,
          );
      }
    }
  }
  Object.assign(report, {
    runs,
    runsThatRanMoreThanOnce: rerun,
    attemptsBeforeTheLast: earlier,
    problems: problems.length,
  });
  expect(problems).toEqual([]);
  expect(runs).toBe(2 * ids.length);
}

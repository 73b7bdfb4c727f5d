import { FINAL_STATUSES } from "../../../lib/protocol/status.ts";
import type { OutputTable, ReadModel } from "../../../lib/read-model/database.ts";
import { LIVE_OUTPUT_STOPPED } from "../../../lib/runners/output.ts";
import type { IngressDeps } from "../deps.ts";
import { HttpError, unexpected } from "../errors.ts";

type Position = { attempt: number; chunk: number };

/** How often a quiet output stream sends an SSE comment. */
export const KEEP_ALIVE_MS = 15_000;

/** The `id:` of an output event (`attempt:chunk`), sent back as Last-Event-ID to resume after it. */
function parsePosition(id: string | null | undefined): Position | undefined {
  const match = id?.match(/^(\d{1,9}):(\d{1,9})$/);
  return match ? { attempt: Number(match[1]), chunk: Number(match[2]) } : undefined;
}

/** Stored output chunks after `from`, in the order they were written. */
async function chunksAfter(db: ReadModel, runId: string, from: Position): Promise<OutputTable[]> {
  return await db
    .selectFrom("output")
    .selectAll()
    .where("run_id", "=", runId)
    .where((eb) =>
      eb.or([
        eb("attempt", ">", from.attempt),
        eb.and([eb("attempt", "=", from.attempt), eb("chunk", ">", from.chunk)]),
      ]),
    )
    .orderBy("attempt")
    .orderBy("chunk")
    .limit(500)
    .execute();
}

async function runState(db: ReadModel, runId: string) {
  const run = await db
    .selectFrom("runs")
    .select(["status", "output_cut", "attempt"])
    .where("id", "=", runId)
    .executeTakeFirst();
  if (!run) throw new HttpError(404, `no run with id ${JSON.stringify(runId)}`);
  return run;
}

/**
 * A step that ended before its first live chunk was due published none (services/executor
 * output.ts): its output is the attempt's record, stdout then stderr.
 */
async function recordedTail(
  db: ReadModel,
  runId: string,
  attempt: number,
  liveStopped = false,
): Promise<OutputTable[]> {
  const streamed = await db
    .selectFrom("output")
    .select("chunk")
    .where("run_id", "=", runId)
    .where("attempt", "=", attempt)
    .limit(1)
    .execute();
  if (streamed.length > 0 && !liveStopped) return [];
  const run = await db
    .selectFrom("runs")
    .select(["stdout", "stderr", "completed_at"])
    .where("id", "=", runId)
    .executeTakeFirstOrThrow();
  const at = run.completed_at ?? "";
  const tail = (["stdout", "stderr"] as const)
    .filter((stream) => run[stream] !== "")
    .map((stream, i) => ({ run_id: runId, attempt, chunk: i, stream, text: run[stream], at, seq: 0 }));
  // After the live output stopped at its cap, the end of the output is only in the attempt's record: say where it starts.
  const note: OutputTable = {
    run_id: runId,
    attempt,
    chunk: -1,
    stream: "stderr",
    text: `[the end of the output follows: the last ${tail.map((c) => `${c.text.length} characters of ${c.stream}`).join(" and ")}; what lies between was not kept]\n`,
    at,
    seq: 0,
  };
  return liveStopped && tail.length > 0 ? [note, ...tail] : tail;
}

/** The output kept for a run, as the original backend's clients (seed/http-contract.md) read it: `[{kind, text, createdAt}]`. */
export async function outputJson(db: ReadModel, runId: string) {
  const run = await runState(db, runId);
  const output: { kind: string; text: string; createdAt: string; attempt: number }[] = [];
  for (let from: Position = { attempt: 0, chunk: -1 }; ; ) {
    const page = await chunksAfter(db, runId, from);
    output.push(...page.map((c) => ({ kind: c.stream, text: c.text, createdAt: c.at, attempt: c.attempt })));
    if (page.length < 500) break;
    from = page.at(-1)!;
  }
  if (FINAL_STATUSES.has(run.status) && run.attempt > 0) {
    const stopped = output.some((o) => o.attempt === run.attempt && o.text.includes(LIVE_OUTPUT_STOPPED));
    output.push(
      ...(await recordedTail(db, runId, run.attempt, stopped)).map((c) => ({
        kind: c.stream,
        text: c.text,
        createdAt: c.at,
        attempt: c.attempt,
      })),
    );
  }
  return { runId, status: run.status, cut: run.output_cut === 1, output };
}

/**
 * Server-Sent Events: every stored chunk (`event: output`), then new ones as the
 * projector applies them, until the run is final (`event: end` with its status). The
 * first event says whether retention already cut the oldest output. With
 * `follow=false` it ends after what is stored.
 */
export async function outputStream(
  deps: IngressDeps,
  runId: string,
  follow: boolean,
  request: Request,
  lastEventId?: string | null,
  onEnd?: () => void,
): Promise<Response> {
  const first = await runState(deps.db, runId);
  const resumeFrom = parsePosition(lastEventId);
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      let lastWrite = Date.now();
      const write = (text: string) => {
        lastWrite = Date.now();
        controller.enqueue(encoder.encode(text));
      };
      const send = (event: string, data: unknown, id?: string) =>
        write(`${id ? `id: ${id}\n` : ""}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      send("run", {
        runId,
        status: first.status,
        cut: first.output_cut === 1,
        ...(resumeFrom ? { resumedAfter: lastEventId } : {}),
      });
      let from: Position = resumeFrom ?? { attempt: 0, chunk: -1 };
      let stoppedIn = -1;
      try {
        // A stopping ingress ends the stream (the client reconnects elsewhere) rather than wait for the run.
        while (!request.signal.aborted && !deps.closing?.aborted) {
          const page = await chunksAfter(deps.db, runId, from);
          for (const c of page) {
            if (c.text.includes(LIVE_OUTPUT_STOPPED)) stoppedIn = c.attempt;
            send("output", { stream: c.stream, text: c.text, attempt: c.attempt, at: c.at }, `${c.attempt}:${c.chunk}`);
          }
          if (page.length > 0) from = page.at(-1)!;
          if (page.length === 500) continue;
          const { status, attempt } = await runState(deps.db, runId);
          // Chunks are applied before the attempt's record, so a final run has no more to come.
          if (!follow || FINAL_STATUSES.has(status)) {
            if (FINAL_STATUSES.has(status) && attempt > 0) {
              for (const c of await recordedTail(deps.db, runId, attempt, stoppedIn === attempt))
                send("output", { stream: c.stream, text: c.text, attempt: c.attempt, at: c.at });
            }
            send("end", { status });
            break;
          }
          // A comment line now and then keeps proxies and idle timeouts from cutting a quiet stream.
          if (Date.now() - lastWrite >= KEEP_ALIVE_MS) write(": keep-alive\n\n");
          await deps.changes.next(200);
        }
      } catch (error) {
        send("error", unexpected(error, request));
      } finally {
        // The stream's place among the held requests is given back however it ended.
        onEnd?.();
      }
      controller.close();
    },
  });
  return new Response(body, {
    headers: { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" },
  });
}

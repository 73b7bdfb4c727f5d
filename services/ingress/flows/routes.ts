import { readFileSync } from "node:fs";
import { Elysia, t } from "elysia";
import type { FlowStep } from "../../../lib/flows/manifest.ts";
import { nextTick } from "../../../lib/flows/schedule.ts";
import { queueFor } from "../../../lib/flows/step-policy.ts";
import type { FlowPaused, FlowResumed } from "../../../lib/protocol/messages.ts";
import { operatorAction, ReasonQuery, reasonOf } from "../audit/record.ts";
import { checkScope, OPERATOR_SECURITY, requireOperator, requireToken } from "../auth.ts";
import type { IngressDeps } from "../deps.ts";
import { HttpError } from "../errors.ts";
import { waitForSeq } from "../read-your-writes.ts";
import { errors } from "../schemas.ts";
import { jsonRequestBody, strictBody } from "../strict-body.ts";
import { FlowsView, PauseAnswer, PauseBody, SchedulesAnswer, type StepView } from "./schemas.ts";

/** A step's trigger schema as JSON, or why it cannot be shown (the matcher reports the same file as a problem). */
function readSchema(path: string | undefined): { schema: unknown; schemaError: string | null } {
  if (!path) return { schema: null, schemaError: null };
  try {
    return { schema: JSON.parse(readFileSync(path, "utf8")), schemaError: null };
  } catch (error) {
    return { schema: null, schemaError: `${path}: ${(error as Error).message}` };
  }
}

function presentStep(step: FlowStep, paused: boolean): StepView {
  const { backoff, runsOn, concurrency, retries } = step.policy;
  return {
    name: step.name,
    runner: step.runner,
    script: step.script,
    timeoutMs: step.timeoutMs,
    trigger: { type: step.trigger.type, schema: step.trigger.schema ?? null },
    ...readSchema(step.trigger.schemaPath),
    policy: { retries, backoff, runsOn: runsOn ?? null, concurrency: concurrency ?? null },
    queue: queueFor(step.policy),
    debounce: step.trigger.debounce ?? null,
    paused,
  };
}

/** The flows this host knows; 503 when the ingress was started without them. */
function catalogOf(deps: IngressDeps) {
  if (!deps.catalog || !deps.lastOn)
    throw new HttpError(503, "this ingress has no flow catalog (it reads flows from CODEX_FLOW_BACKEND_CWD)");
  return { catalog: deps.catalog, lastOn: deps.lastOn };
}

/**
 * Flows: the catalog as this host's working directory has it (the same discovery the
 * matcher uses) with each step's trigger, schema, runner, policies and pause state, the
 * load errors of broken flows, and schedules; pause and
 * resume (messages in the stream, so every host's matcher sees them and a rebuild keeps
 * them), and the schedules with their next and last ticks.
 */
export function flowRoutes(deps: IngressDeps) {
  const guarded = { beforeHandle: requireToken(deps) };
  const operator = { beforeHandle: requireOperator(deps) };

  const controls = async () => {
    const rows = await deps.db.selectFrom("flow_controls").selectAll().where("paused", "=", 1).execute();
    return new Map(rows.map((row) => [`${row.flow}\n${row.step}`, row]));
  };

  const setPaused = async (
    request: Request,
    flowName: string,
    body: { step?: string; reason?: string },
    pause: boolean,
    queryReason?: string,
  ) => {
    checkScope(request, flowName, `flow ${flowName}`);
    const { catalog, lastOn } = catalogOf(deps);
    const flow = catalog.current().flows.find((f) => f.name === flowName);
    if (!flow) throw new HttpError(404, `no flow named ${JSON.stringify(flowName)} (see GET /flows)`);
    if (body.step !== undefined && !flow.steps.some((s) => s.name === body.step))
      throw new HttpError(404, `flow ${flowName} has no step ${JSON.stringify(body.step)}`);
    const what = body.step ? `step ${flowName}/${body.step}` : `flow ${flowName}`;
    const subject = deps.subjects.control(flowName, body.step);
    const last = await lastOn(subject);
    const paused = last?.message.kind === "flow.paused";
    if (pause && paused)
      throw new HttpError(409, `${what} is already paused (since ${(last!.message as FlowPaused).at})`);
    if (!pause && !paused) throw new HttpError(409, `${what} is not paused`);
    const at = new Date().toISOString();
    const step = body.step !== undefined ? { step: body.step } : {};
    const message: FlowPaused | FlowResumed = pause
      ? { v: 1, kind: "flow.paused", flow: flowName, ...step, at, ...(body.reason ? { reason: body.reason } : {}) }
      : { v: 1, kind: "flow.resumed", flow: flowName, ...step, at, pausedSeq: last!.seq };
    // Its message id names the state it leaves (lib/protocol/ids.ts), so two operators' identical requests make one message.
    const reason = reasonOf(body, queryReason);
    const action = operatorAction(deps, request, {
      action: pause ? "pause" : "resume",
      target: { flow: flowName, ...step },
      summary: `POST /flows/${flowName}/${pause ? "pause" : "resume"}${body.step ? ` (step ${body.step})` : ""}`,
      reason,
    });
    const { seq } = await action.publish(message, { after: last?.seq ?? 0 });
    await action.record();
    await waitForSeq(deps.db, seq, deps.waitTimeoutMs, deps.changes);
    return { flow: flowName, ...step, paused: pause, seq, at };
  };

  /** POST /flows/:flow/pause and /resume: one route each, the same body, guard and answers. */
  const pauseRoute = (action: "pause" | "resume", pause: boolean, summary: string) =>
    new Elysia({ name: `flows-${action}` }).post(
      `/flows/:flow/${action}`,
      async ({ params, request, query }) =>
        await setPaused(
          request,
          params.flow,
          await strictBody(request, PauseBody, deps.maxBodyBytes),
          pause,
          query.reason,
        ),
      {
        ...operator,
        parse: "none",
        query: t.Object(ReasonQuery, { additionalProperties: true }),
        response: { 200: PauseAnswer, ...errors(400, 401, 403, 404, 409, 503, 507) },
        detail: {
          security: OPERATOR_SECURITY,
          tags: ["flows"],
          summary,
          requestBody: jsonRequestBody(PauseBody, false),
        },
      },
    );

  return new Elysia({ name: "flows" })
    .get(
      "/flows",
      async () => {
        const { catalog } = catalogOf(deps);
        const index = catalog.current();
        const paused = await controls();
        const flows = index.flows.map((flow) => {
          const own = paused.get(`${flow.name}\n`);
          return {
            name: flow.name,
            version: flow.version,
            description: flow.description ?? null,
            manifestPath: flow.manifestPath,
            paused: own !== undefined,
            pausedAt: own?.at ?? null,
            pauseReason: own?.reason ?? null,
            steps: flow.steps.map((step) => presentStep(step, paused.has(`${flow.name}\n${step.name}`))),
            schedules: (flow.schedules ?? []).map((s) => s.name),
          };
        });
        return {
          flows,
          problems: [...index.discovery.problems, ...index.problems],
          shadowed: index.discovery.shadowed,
        };
      },
      {
        ...guarded,
        response: { 200: FlowsView, ...errors(401, 503) },
        detail: {
          tags: ["flows"],
          summary:
            "The flow catalog: each step's trigger, schema, runner, policies and pause state, schedules, and load errors of broken flows",
        },
      },
    )
    .use(
      pauseRoute(
        "pause",
        true,
        "Pause a flow (or one step, body {step}): its matched runs are held, queued in order when it is resumed",
      ),
    )
    .use(
      pauseRoute(
        "resume",
        false,
        "Resume a paused flow (or step): the runs held meanwhile are queued, in the order they were held",
      ),
    )
    .get(
      "/schedules",
      async () => {
        const { catalog } = catalogOf(deps);
        const now = new Date();
        const schedules = [];
        for (const flow of catalog.current().flows) {
          for (const schedule of flow.schedules ?? []) {
            const last = await deps.db
              .selectFrom("schedule_ticks")
              .selectAll()
              .where("flow", "=", flow.name)
              .where("schedule", "=", schedule.name)
              .orderBy("tick", "desc")
              .limit(1)
              .executeTakeFirst();
            schedules.push({
              flow: flow.name,
              name: schedule.name,
              cron: schedule.cron,
              timezone: schedule.timezone,
              eventType: schedule.event.type,
              catchUp: schedule.catchUp,
              overlap: schedule.overlap,
              nextTick: nextTick(schedule, now)?.toISOString() ?? null,
              lastTick: last
                ? { tick: last.tick, outcome: last.outcome, eventId: last.event_id, reason: last.reason }
                : null,
            });
          }
        }
        return { schedules };
      },
      {
        ...guarded,
        response: { 200: SchedulesAnswer, ...errors(401, 503) },
        detail: {
          tags: ["flows"],
          summary:
            "Every schedule of every flow, with its next tick and the last tick handled (emitted or skipped, and why)",
        },
      },
    );
}

import { readFileSync } from "node:fs";
import { Elysia } from "elysia";
import type { FlowStep } from "../../../lib/manifest.ts";
import { queueFor } from "../../../lib/step-policy.ts";
import { requireToken } from "../auth.ts";
import type { IngressDeps } from "../deps.ts";
import { errors } from "../schemas.ts";
import { FlowsView, type StepView } from "./schemas.ts";

/** A step's trigger schema as JSON, or why it cannot be shown (the matcher reports the same file as a problem). */
function readSchema(path: string | undefined): { schema: unknown; schemaError: string | null } {
  if (!path) return { schema: null, schemaError: null };
  try {
    return { schema: JSON.parse(readFileSync(path, "utf8")), schemaError: null };
  } catch (error) {
    return { schema: null, schemaError: `${path}: ${(error as Error).message}` };
  }
}

function presentStep(step: FlowStep): StepView {
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
  };
}

/**
 * GET /flows: the catalog as the ingress's working directory has it (the same discovery
 * the matcher uses): every flow with each step's trigger, schema, runner and policies,
 * and the problems of flows that failed to load.
 */
export function flowRoutes(deps: IngressDeps) {
  return new Elysia({ name: "flows" }).get(
    "/flows",
    () => {
      const index = deps.system?.catalog.current();
      if (!index) return { flows: [], problems: [], shadowed: [] };
      const flows = index.flows.map((flow) => ({
        name: flow.name,
        version: flow.version,
        description: flow.description ?? null,
        manifestPath: flow.manifestPath,
        steps: flow.steps.map(presentStep),
      }));
      return { flows, problems: [...index.discovery.problems, ...index.problems], shadowed: index.discovery.shadowed };
    },
    {
      beforeHandle: requireToken(deps.token),
      response: { 200: FlowsView, ...errors(401) },
      detail: { tags: ["flows"], summary: "The flow catalog: each step's trigger, schema, runner and policies; load errors of broken flows" },
    },
  );
}

import { readFileSync } from "node:fs";
import Ajv, { type ErrorObject, type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";
import type { FlowEvent } from "../protocol/event.ts";
import { byFlowName, type DiscoveryProblem } from "./discovery.ts";
import type { Flow, FlowStep } from "./manifest.ts";
import { typeDiffers } from "./why-no-match.ts";

export type StepMatch = { flow: Flow; step: FlowStep; matched: boolean; reasons: string[] };
/** A flow or step that did not load, as a match decision says it: `flow X not loaded: why`. */
export type NotLoaded = { flow: string; flowVersion: number; step: string; reason: string };
export type TriggerIndex = {
  flows: Flow[];
  problems: DiscoveryProblem[];
  notLoaded: NotLoaded[];
  match(event: FlowEvent): StepMatch[];
};

/** A step's payload check: the reasons it refuses a payload (empty when it accepts). */
type PayloadCheck = (payload: unknown) => string[];
type CompiledStep = { flow: Flow; step: FlowStep; check: PayloadCheck };

const acceptAll: PayloadCheck = () => [];

/**
 * Reads and compiles every step's trigger schema once, up front, so that matching an
 * event does no I/O. A schema that cannot be used is reported in `problems` and its
 * steps never match (their reason says why), rather than matching everything.
 * `match` returns one StepMatch per step of every flow, ordered by flow name then step order.
 */
export function compileTriggers(flows: Flow[], discoveryProblems: DiscoveryProblem[] = []): TriggerIndex {
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  // Keyed by absolute path: steps sharing a schema share one compile, and ajv would
  // reject a second compile of a schema that declares an $id anyway.
  const checks = new Map<string, PayloadCheck>();
  const problems: DiscoveryProblem[] = [];
  const schemaCheck = (schemaPath: string): PayloadCheck => {
    let check = checks.get(schemaPath);
    if (!check) {
      check = compileSchema(ajv, schemaPath, problems);
      checks.set(schemaPath, check);
    }
    return check;
  };

  const ordered = [...flows].sort(byFlowName);
  const compiled: CompiledStep[] = ordered.flatMap((flow) =>
    flow.steps.map((step) => ({
      flow,
      step,
      check: step.trigger.schemaPath ? schemaCheck(step.trigger.schemaPath) : acceptAll,
    })),
  );
  return {
    flows: ordered,
    problems,
    notLoaded: notLoaded(flows, discoveryProblems),
    match: (event) => compiled.map((entry) => matchStep(entry, event)),
  };
}

/** Every flow and step that discovery left out, with the reason an event's decisions will carry. */
function notLoaded(flows: Flow[], problems: DiscoveryProblem[]): NotLoaded[] {
  const version = (name: string) => flows.find((f) => f.name === name)?.version ?? 0;
  return problems.flatMap((p) => {
    if (p.flow === undefined) return [];
    const what = p.step === undefined ? `flow ${p.flow} not loaded` : `flow ${p.flow} step ${p.step} not loaded`;
    return [{ flow: p.flow, flowVersion: version(p.flow), step: p.step ?? "*", reason: `${what}: ${p.message}` }];
  });
}

/** Exact type equality first; the payload schema is only consulted for steps that want this type. */
function matchStep({ flow, step, check }: CompiledStep, event: FlowEvent): StepMatch {
  if (step.trigger.type !== event.type) {
    return { flow, step, matched: false, reasons: [typeDiffers(step.trigger.type, event.type)] };
  }
  const reasons = check(event.payload);
  return { flow, step, matched: reasons.length === 0, reasons };
}

function compileSchema(ajv: Ajv, schemaPath: string, problems: DiscoveryProblem[]): PayloadCheck {
  let validate: ValidateFunction;
  let parsed = false;
  try {
    const schema: unknown = JSON.parse(readFileSync(schemaPath, "utf8"));
    parsed = true;
    validate = ajv.compile(schema as object);
  } catch (error) {
    // Past JSON.parse, a SyntaxError is a `pattern` RegExp could not compile, not the JSON.
    const cause =
      parsed && error instanceof SyntaxError
        ? new Error(
            `an invalid regular expression ${badPattern(JSON.parse(readFileSync(schemaPath, "utf8"))) ?? ""}(${error.message})`,
          )
        : error;
    const why = describeCompileError(cause);
    problems.push({ path: schemaPath, message: `${schemaPath}: trigger schema unusable: ${why}` });
    const reason = `schema: unusable trigger schema ${schemaPath} (${why}); this step never matches`;
    return () => [reason];
  }
  return (payload) => (validate(payload) ? [] : (validate.errors ?? []).map(describeValidationError));
}

/** Where the first `pattern` (or `patternProperties` key) that does not compile as a RegExp is, `at /json/pointer "source" `; undefined if none is found within bounds. */
function badPattern(schema: unknown): string | undefined {
  const stack: [unknown, string][] = [[schema, ""]];
  // Bounded: at most 10,000 nodes of the schema are looked at.
  for (let seen = 0; stack.length > 0 && seen < 10_000; seen++) {
    const [node, at] = stack.pop()!;
    if (typeof node !== "object" || node === null) continue;
    const entries = Object.entries(node);
    const sources: [string, unknown][] = entries
      .filter(([key]) => key === "pattern")
      .map(([, value]) => [`${at}/pattern`, value]);
    const props = (node as Record<string, unknown>).patternProperties;
    if (typeof props === "object" && props !== null)
      sources.push(...Object.keys(props).map((key): [string, unknown] => [`${at}/patternProperties`, key]));
    for (const [where, source] of sources) {
      if (typeof source !== "string") continue;
      try {
        new RegExp(source, "u");
      } catch {
        return `at ${where} ${JSON.stringify(source)} `;
      }
    }
    for (const [key, value] of entries) stack.push([value, `${at}/${key}`]);
  }
  return undefined;
}

function describeCompileError(error: unknown): string {
  if ((error as NodeJS.ErrnoException).code === "ENOENT") return "file not found";
  if (error instanceof SyntaxError) return `not valid JSON: ${error.message}`;
  return (error as Error).message;
}

/** `schema: /repo must be string`; ajv's `required` message already names the missing property. */
function describeValidationError(error: ErrorObject): string {
  return `schema: ${error.instancePath === "" ? "/" : error.instancePath} ${error.message ?? `fails ${error.keyword}`}`;
}

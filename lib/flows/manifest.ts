import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";
import { parse, TomlError } from "smol-toml";
import { type Debounce, DEBOUNCE_KEYS, parseDebounce } from "./debounce.ts";
import { EVENT_TYPE_MAX, EVENT_TYPE_PATTERN } from "../protocol/event.ts";
import { parseRetention, type Retention } from "./retention.ts";
import { isSystemSecret, validEnvNames } from "../runners/step-env.ts";
import { parseSchedule, type Schedule } from "./schedule.ts";
import { parseStepPolicy, STEP_POLICY_KEYS, type StepPolicy } from "./step-policy.ts";
import { parseWarm, type WarmOptions } from "./warm.ts";

export type Runner = "bun" | "code-mode";
export const RUNNERS: readonly Runner[] = ["bun", "code-mode"];
export const DEFAULT_TIMEOUT_MS = 300_000;

export type StepTrigger = { type: string; schema?: string; schemaPath?: string; debounce?: Debounce };
export type FlowStep = {
  name: string;
  runner: Runner;
  script: string;
  scriptPath: string;
  timeoutMs: number;
  cwd?: string;
  workingDirectory: string;
  trigger: StepTrigger;
  policy: StepPolicy;
  /** `warm`: served by long-lived workers that import the module once (lib/flows/warm.ts); absent: spawned per run. */
  warm?: WarmOptions;
};
/** A step left out of its flow because it cannot run (its script is missing); the rest of the flow loads. */
export type BrokenStep = { step: string; field: string; message: string };
export type Flow = {
  name: string;
  version: number;
  description?: string;
  config: Record<string, unknown>;
  guidance?: { skills?: string[] };
  /** `[env] secrets`: the secret-looking variables of the executor's environment this flow's steps receive (lib/runners/step-env.ts). */
  env?: { secrets: string[] };
  steps: FlowStep[];
  /** `[[schedules]]`: cron ticks that emit events (lib/flows/schedule.ts). */
  schedules?: Schedule[];
  /** `[retention]`: how long this flow's runs are kept, over the environment's defaults (lib/flows/retention.ts). */
  retention?: Retention;
  root: string;
  manifestPath: string;
  /** Steps that were left out, with why (loadManifest). */
  brokenSteps?: BrokenStep[];
};

/** A manifest that cannot be used; `field` is a path into the TOML such as `steps[1].timeout_ms`. */
export class ManifestError extends Error {
  constructor(
    public readonly path: string,
    public readonly field: string,
    message: string,
  ) {
    super(`${path}: ${field}: ${message}`);
    this.name = "ManifestError";
  }
}

// Flow and step names end up in run ids and NATS subjects, so they get a deliberately small alphabet.
const NAME = /^[A-Za-z0-9._-]+$/;
const NAME_RULE = "expected a non-empty name of letters, digits, '.', '_' or '-'";
const EVENT_TYPE = new RegExp(EVENT_TYPE_PATTERN);
// Unknown keys are rejected because in a hand-written manifest they are almost always typos.
const FLOW_KEYS = ["name", "version", "description", "config", "guidance", "env", "steps", "schedules", "retention"];
const GUIDANCE_KEYS = ["skills"];
const ENV_KEYS = ["secrets"];
const STEP_KEYS = ["name", "runner", "script", "timeout_ms", "cwd", "trigger", "warm", ...STEP_POLICY_KEYS];
const TRIGGER_KEYS = ["type", "schema", ...DEBOUNCE_KEYS];

type Table = Record<string, unknown>;
type Fail = (field: string, message: string) => never;

/**
 * Validates the text of a `flow.toml` and resolves its paths against the manifest's
 * folder. Pure apart from path arithmetic: referenced files need not exist.
 * Throws a ManifestError naming the first bad field.
 */
export function parseManifest(text: string, manifestPath: string): Flow {
  const path = resolve(manifestPath);
  const root = dirname(path);
  const fail: Fail = (field, message) => {
    throw new ManifestError(path, field, message);
  };
  const doc = parseToml(text, fail);
  checkKeys(doc, FLOW_KEYS, "", fail);
  const name = readName(doc.name, "name", fail);
  const version = doc.version ?? 1;
  if (!isPositiveInteger(version)) fail("version", `expected an integer >= 1, got ${describe(version)}`);
  const description = doc.description;
  if (description !== undefined && typeof description !== "string") fail("description", `expected a string, got ${describe(description)}`);
  const config = doc.config === undefined ? {} : readTable(doc.config, "config", fail);
  const guidance = doc.guidance === undefined ? undefined : parseGuidance(readTable(doc.guidance, "guidance", fail), fail);
  const env = doc.env === undefined ? undefined : parseEnv(readTable(doc.env, "env", fail), fail);

  const steps = doc.steps;
  if (!Array.isArray(steps) || steps.length === 0) fail("steps", `expected at least one [[steps]] table, got ${describe(steps)}`);
  const seen = new Set<string>();
  const flowSteps = steps.map((step, index) => {
    const parsed = parseStep(step, `steps[${index}]`, root, fail);
    if (seen.has(parsed.name)) fail(`steps[${index}].name`, `duplicate step name "${parsed.name}"; step names must be unique in a flow`);
    seen.add(parsed.name);
    return parsed;
  });

  const flow: Flow = { name, version, config, steps: flowSteps, root, manifestPath: path };
  if (doc.schedules !== undefined) flow.schedules = parseSchedules(doc.schedules, fail);
  if (doc.retention !== undefined) flow.retention = parseRetention(readTable(doc.retention, "retention", fail), "retention", fail);
  if (description !== undefined) flow.description = description;
  if (guidance !== undefined) flow.guidance = guidance;
  if (env !== undefined) flow.env = env;
  return flow;
}

/**
 * Reads and parses a `flow.toml`, then checks that every step's script exists. A step
 * whose script is missing is left out (in `brokenSteps`, so it is reported) and the
 * healthy steps load; when no step can run, the flow is rejected with the first reason.
 */
export function loadManifest(manifestPath: string): Flow {
  const flow = parseManifest(readFileSync(manifestPath, "utf8"), manifestPath);
  // Paths were checked as written; a symlink inside the folder could still lead out of it.
  const realRoot = realpathSync(flow.root);
  const broken: BrokenStep[] = [];
  const healthy = flow.steps.filter((step, index) => {
    if (step.trigger.schemaPath !== undefined && existsSync(step.trigger.schemaPath)) {
      checkResolvesInside(realRoot, step.trigger.schemaPath, step.trigger.schema ?? "", flow.manifestPath, `steps[${index}].trigger.schema`);
    }
    if (!existsSync(step.scriptPath) || !statSync(step.scriptPath).isFile()) {
      broken.push({ step: step.name, field: `steps[${index}].script`, message: `script "${step.script}" not found at ${step.scriptPath}` });
      return false;
    }
    checkResolvesInside(realRoot, step.scriptPath, step.script, flow.manifestPath, `steps[${index}].script`);
    return true;
  });
  if (healthy.length === 0) throw new ManifestError(flow.manifestPath, broken[0]!.field, broken[0]!.message);
  return broken.length === 0 ? flow : { ...flow, steps: healthy, brokenSteps: broken };
}

/** Whether `path`, with every symlink resolved, is strictly inside the real directory `realDir`. */
export function resolvesInside(realDir: string, path: string): boolean {
  const rel = relative(realDir, realpathSync(path));
  return rel !== "" && rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

function checkResolvesInside(realRoot: string, path: string, written: string, manifestPath: string, field: string): void {
  if (resolvesInside(realRoot, path)) return;
  throw new ManifestError(manifestPath, field, `"${written}" resolves through a symlink to ${realpathSync(path)}, outside the flow folder ${realRoot}`);
}

function parseToml(text: string, fail: Fail): Table {
  try {
    return parse(text);
  } catch (error) {
    if (!(error instanceof TomlError)) throw error;
    const reason = error.message.split("\n")[0]?.replace(/^Invalid TOML document: /, "");
    return fail("toml", `${reason} (line ${error.line}, column ${error.column})`);
  }
}

function parseStep(value: unknown, field: string, root: string, fail: Fail): FlowStep {
  const step = readTable(value, field, fail);
  checkKeys(step, STEP_KEYS, field, fail);
  const name = readName(step.name, `${field}.name`, fail);
  const runner = step.runner;
  if (!RUNNERS.includes(runner as Runner)) fail(`${field}.runner`, `expected one of ${RUNNERS.map((r) => `"${r}"`).join(", ")}, got ${describe(runner)}`);
  const script = readString(step.script, `${field}.script`, fail);
  const timeoutMs = step.timeout_ms ?? DEFAULT_TIMEOUT_MS;
  if (!isPositiveInteger(timeoutMs)) fail(`${field}.timeout_ms`, `expected a positive integer of milliseconds, got ${describe(timeoutMs)}`);
  // cwd may leave the flow folder on purpose (a flow that works on the repository holding it uses "../..").
  const cwd = optionalString(step.cwd, `${field}.cwd`, fail);
  if (cwd !== undefined && isAbsolute(cwd)) fail(`${field}.cwd`, `expected a path relative to the flow folder, got "${cwd}"`);

  const trigger = readTable(step.trigger, `${field}.trigger`, fail);
  checkKeys(trigger, TRIGGER_KEYS, `${field}.trigger`, fail);
  const type = readString(trigger.type, `${field}.trigger.type`, fail);
  if (type.length > EVENT_TYPE_MAX || !EVENT_TYPE.test(type)) {
    fail(`${field}.trigger.type`, `expected dot-separated segments of letters, digits and _ - : / @ + (e.g. upstream.release), got "${type}"`);
  }
  const schema = optionalString(trigger.schema, `${field}.trigger.schema`, fail);
  const stepTrigger: StepTrigger =
    schema === undefined ? { type } : { type, schema, schemaPath: insideRoot(root, schema, `${field}.trigger.schema`, fail) };
  const debounce = parseDebounce(trigger, `${field}.trigger`, fail);
  if (debounce) stepTrigger.debounce = debounce;

  const parsed: FlowStep = {
    name,
    runner: runner as Runner,
    script,
    scriptPath: insideRoot(root, script, `${field}.script`, fail),
    timeoutMs,
    workingDirectory: resolve(root, cwd ?? "."),
    trigger: stepTrigger,
    policy: parseStepPolicy(step, field, fail),
  };
  if (cwd !== undefined) parsed.cwd = cwd;
  const warm = parseWarm(step.warm, runner as Runner, `${field}.warm`, fail);
  if (warm) parsed.warm = warm;
  return parsed;
}

function parseSchedules(value: unknown, fail: Fail): Schedule[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) return fail("schedules", `expected [[schedules]] tables, got ${describe(value)}`);
  const seen = new Set<string>();
  return value.map((table, index) => {
    const schedule = parseSchedule(readTable(table, `schedules[${index}]`, fail), `schedules[${index}]`, fail);
    if (seen.has(schedule.name)) fail(`schedules[${index}].name`, `duplicate schedule name "${schedule.name}"`);
    seen.add(schedule.name);
    return schedule;
  });
}

function parseGuidance(guidance: Table, fail: Fail): { skills?: string[] } {
  checkKeys(guidance, GUIDANCE_KEYS, "guidance", fail);
  if (guidance.skills === undefined) return {};
  const skills = guidance.skills;
  if (!Array.isArray(skills)) return fail("guidance.skills", `expected an array of strings, got ${describe(skills)}`);
  skills.forEach((skill, index) => readString(skill, `guidance.skills[${index}]`, fail));
  return { skills: skills as string[] };
}

function parseEnv(env: Table, fail: Fail): { secrets: string[] } {
  checkKeys(env, ENV_KEYS, "env", fail);
  const secrets = env.secrets ?? [];
  if (!Array.isArray(secrets)) return fail("env.secrets", `expected an array of variable names, got ${describe(secrets)}`);
  secrets.forEach((name, index) => {
    const field = `env.secrets[${index}]`;
    if (typeof name !== "string" || !validEnvNames([name])) fail(field, `expected an environment variable name (letters, digits, _), got ${describe(name)}`);
    if (isSystemSecret(name)) fail(field, `${name} is one of the system's own secrets, which no step gets (docs/runners.md)`);
  });
  return { secrets: secrets as string[] };
}

/** A path as written must resolve to something strictly inside the flow folder (absolute paths included). */
function insideRoot(root: string, written: string, field: string, fail: Fail): string {
  const absolute = resolve(root, written);
  const rel = relative(root, absolute);
  if (rel === "" || rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    fail(field, `"${written}" must be a path inside the flow folder ${root}`);
  }
  return absolute;
}

function checkKeys(table: Table, allowed: string[], field: string, fail: Fail): void {
  for (const key of Object.keys(table)) {
    if (!allowed.includes(key)) fail(field === "" ? key : `${field}.${key}`, `unknown key "${key}" (expected one of ${allowed.join(", ")})`);
  }
}

function readName(value: unknown, field: string, fail: Fail): string {
  if (typeof value !== "string" || !NAME.test(value)) return fail(field, `${NAME_RULE}, got ${describe(value)}`);
  return value;
}

function readString(value: unknown, field: string, fail: Fail): string {
  if (typeof value !== "string" || value === "") return fail(field, `expected a non-empty string, got ${describe(value)}`);
  return value;
}

function optionalString(value: unknown, field: string, fail: Fail): string | undefined {
  return value === undefined ? undefined : readString(value, field, fail);
}

function readTable(value: unknown, field: string, fail: Fail): Table {
  if (!isTable(value)) return fail(field, `expected a table, got ${describe(value)}`);
  return value;
}

function isTable(value: unknown): value is Table {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 1;
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Date) return "a date";
  if (isTable(value)) return "a table";
  return `${typeof value} ${JSON.stringify(value)}`;
}

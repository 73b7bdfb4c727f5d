import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parse, TomlError } from "smol-toml";
import { isSystemSecret, validEnvNames } from "../runners/step-env.ts";
import {
  type Collect,
  checkKeys,
  describe,
  type Fail,
  isPositiveInteger,
  readName,
  readString,
  readTable,
  strictlyInside,
  type Table,
} from "./manifest-read.ts";
import { type FlowStep, parseStep } from "./manifest-step.ts";
import { parseRetention, type Retention } from "./retention.ts";
import { parseSchedule, type Schedule } from "./schedule.ts";
import { fieldLine } from "./toml-lines.ts";

export { DEFAULT_TIMEOUT_MS, type FlowStep, RUNNERS, type Runner, type StepTrigger } from "./manifest-step.ts";

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

/**
 * A manifest that cannot be used; `field` is a path into the TOML such as
 * `steps[1].timeout_ms`, `line` where it is written (said at the end of the message).
 * The one parseManifest throws is the file's first; `all` holds every one it found.
 */
export class ManifestError extends Error {
  all: ManifestError[] = [this];
  constructor(
    public readonly path: string,
    public readonly field: string,
    message: string,
    public readonly line?: number,
  ) {
    super(`${path}: ${field}: ${message}${line === undefined || field === "toml" ? "" : ` (line ${line})`}`);
    this.name = "ManifestError";
  }
}

// Unknown keys are rejected because in a hand-written manifest they are almost always typos.
const FLOW_KEYS = ["name", "version", "description", "config", "guidance", "env", "steps", "schedules", "retention"];
const GUIDANCE_KEYS = ["skills"];
const ENV_KEYS = ["secrets"];

/**
 * Validates the text of a `flow.toml` and resolves its paths against the manifest's
 * folder. Pure apart from path arithmetic: referenced files need not exist.
 * Throws a ManifestError naming the first bad field, with every other one in `all`,
 * each with its line.
 */
export function parseManifest(text: string, manifestPath: string): Flow {
  const path = resolve(manifestPath);
  const root = dirname(path);
  const fail: Fail = (field, message) => {
    throw new ManifestError(path, field, message, fieldLine(text, field));
  };
  const errors: ManifestError[] = [];
  const collect: Collect = (read) => {
    try {
      return read();
    } catch (error) {
      if (!(error instanceof ManifestError)) throw error;
      errors.push(error);
      return undefined;
    }
  };
  const doc = parseToml(text, path);
  checkKeys(doc, FLOW_KEYS, "", fail, collect);
  const name = collect(() => readName(doc.name, "name", fail));
  const version = doc.version ?? 1;
  collect(() => isPositiveInteger(version) || fail("version", `expected an integer >= 1, got ${describe(version)}`));
  const description = doc.description;
  collect(
    () =>
      description === undefined ||
      typeof description === "string" ||
      fail("description", `expected a string, got ${describe(description)}`),
  );
  const config = doc.config === undefined ? {} : collect(() => readTable(doc.config, "config", fail));
  const guidance =
    doc.guidance === undefined
      ? undefined
      : collect(() => parseGuidance(readTable(doc.guidance, "guidance", fail), fail));
  const env = doc.env === undefined ? undefined : collect(() => parseEnv(readTable(doc.env, "env", fail), fail));

  const steps = doc.steps;
  collect(
    () =>
      (Array.isArray(steps) && steps.length > 0) ||
      fail("steps", `expected at least one [[steps]] table, got ${describe(steps)}`),
  );
  const seen = new Set<string>();
  const flowSteps = (Array.isArray(steps) ? steps : []).map((step, index) => {
    const parsed = parseStep(step, `steps[${index}]`, root, fail, collect);
    if (parsed && seen.has(parsed.name))
      collect(() =>
        fail(`steps[${index}].name`, `duplicate step name "${parsed.name}"; step names must be unique in a flow`),
      );
    if (parsed) seen.add(parsed.name);
    return parsed;
  });
  const schedules = doc.schedules === undefined ? undefined : parseSchedules(doc.schedules, fail, collect);
  const retention =
    doc.retention === undefined
      ? undefined
      : collect(() => parseRetention(readTable(doc.retention, "retention", fail), "retention", fail));
  if (errors.length > 0) throw Object.assign(errors[0]!, { all: errors });

  const flow: Flow = {
    name: name!,
    version: version as number,
    config: config!,
    steps: flowSteps as FlowStep[],
    root,
    manifestPath: path,
  };
  if (schedules !== undefined) flow.schedules = schedules;
  if (retention !== undefined) flow.retention = retention;
  if (description !== undefined) flow.description = description as string;
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
  const text = readFileSync(manifestPath, "utf8");
  const flow = parseManifest(text, manifestPath);
  const at = (field: string) => ` (line ${fieldLine(text, field) ?? "?"})`;
  // Paths were checked as written; a symlink inside the folder could still lead out of it.
  const realRoot = realpathSync(flow.root);
  const broken: BrokenStep[] = [];
  const healthy = flow.steps.filter((step, index) => {
    if (step.trigger.schemaPath !== undefined && existsSync(step.trigger.schemaPath)) {
      checkResolvesInside(
        realRoot,
        step.trigger.schemaPath,
        step.trigger.schema ?? "",
        flow.manifestPath,
        `steps[${index}].trigger.schema`,
      );
    }
    if (!existsSync(step.scriptPath) || !statSync(step.scriptPath).isFile()) {
      broken.push({
        step: step.name,
        field: `steps[${index}].script`,
        message: `script "${step.script}" not found at ${step.scriptPath}${at(`steps[${index}].script`)}`,
      });
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
  return strictlyInside(realDir, realpathSync(path));
}

function checkResolvesInside(
  realRoot: string,
  path: string,
  written: string,
  manifestPath: string,
  field: string,
): void {
  if (resolvesInside(realRoot, path)) return;
  throw new ManifestError(
    manifestPath,
    field,
    `"${written}" resolves through a symlink to ${realpathSync(path)}, outside the flow folder ${realRoot}`,
  );
}

function parseToml(text: string, path: string): Table {
  try {
    return parse(text);
  } catch (error) {
    if (!(error instanceof TomlError)) throw error;
    const reason = error.message.split("\n")[0]?.replace(/^Invalid TOML document: /, "");
    throw new ManifestError(path, "toml", `${reason} (line ${error.line}, column ${error.column})`, error.line);
  }
}

function parseSchedules(value: unknown, fail: Fail, collect: Collect): Schedule[] | undefined {
  if (!Array.isArray(value))
    return collect(() => fail("schedules", `expected [[schedules]] tables, got ${describe(value)}`));
  const seen = new Set<string>();
  return value.flatMap((table, index) => {
    const schedule = collect(() =>
      parseSchedule(readTable(table, `schedules[${index}]`, fail), `schedules[${index}]`, fail),
    );
    if (!schedule) return [];
    if (seen.has(schedule.name))
      collect(() => fail(`schedules[${index}].name`, `duplicate schedule name "${schedule.name}"`));
    seen.add(schedule.name);
    return [schedule];
  });
}

function parseGuidance(guidance: Table, fail: Fail): { skills?: string[] } {
  checkKeys(guidance, GUIDANCE_KEYS, "guidance", fail);
  if (guidance.skills === undefined) return {};
  const skills = guidance.skills;
  if (!Array.isArray(skills)) return fail("guidance.skills", `expected an array of strings, got ${describe(skills)}`);
  skills.forEach((skill, index) => {
    readString(skill, `guidance.skills[${index}]`, fail);
  });
  return { skills: skills as string[] };
}

function parseEnv(env: Table, fail: Fail): { secrets: string[] } {
  checkKeys(env, ENV_KEYS, "env", fail);
  const secrets = env.secrets ?? [];
  if (!Array.isArray(secrets))
    return fail("env.secrets", `expected an array of variable names, got ${describe(secrets)}`);
  secrets.forEach((name, index) => {
    const field = `env.secrets[${index}]`;
    if (typeof name !== "string" || !validEnvNames([name]))
      fail(field, `expected an environment variable name (letters, digits, _), got ${describe(name)}`);
    if (isSystemSecret(name))
      fail(field, `${name} is one of the system's own secrets, which no step gets (docs/runners.md)`);
  });
  return { secrets: secrets as string[] };
}

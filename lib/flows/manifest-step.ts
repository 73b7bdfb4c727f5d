import { isAbsolute, resolve } from "node:path";
import { EVENT_TYPE_MAX, EVENT_TYPE_PATTERN } from "../protocol/event.ts";
import { parseApproval, type StepApproval } from "./approval.ts";
import { DEBOUNCE_KEYS, type Debounce, parseDebounce } from "./debounce.ts";
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
import { parseStepPolicy, STEP_POLICY_KEYS, type StepPolicy } from "./step-policy.ts";
import { parseWarm, type WarmOptions } from "./warm.ts";

/** One step of a flow.toml (`[[steps]]`), its trigger, and how they are read. */

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
  /** `[steps.approval]`: a person approves each run before it starts (lib/flows/approval.ts). */
  approval?: StepApproval;
};
const EVENT_TYPE = new RegExp(EVENT_TYPE_PATTERN);
const STEP_KEYS = ["name", "runner", "script", "timeout_ms", "cwd", "trigger", "warm", "approval", ...STEP_POLICY_KEYS];
const TRIGGER_KEYS = ["type", "schema", ...DEBOUNCE_KEYS];

/** One `[[steps]]` table; undefined when it had errors (kept by `collect`), each field checked whatever the others say. */
export function parseStep(
  value: unknown,
  field: string,
  root: string,
  fail: Fail,
  collect: Collect,
): FlowStep | undefined {
  const step = collect(() => readTable(value, field, fail));
  if (!step) return undefined;
  let ok = checkKeys(step, STEP_KEYS, field, fail, collect);
  const need = <T>(read: () => T): T => {
    const value = collect(read);
    if (value === undefined) ok = false;
    return value as T;
  };
  const name = need(() => readName(step.name, `${field}.name`, fail));
  const runner = step.runner;
  need(
    () =>
      RUNNERS.includes(runner as Runner) ||
      fail(`${field}.runner`, `expected one of ${RUNNERS.map((r) => `"${r}"`).join(", ")}, got ${describe(runner)}`),
  );
  const script = need(() => readString(step.script, `${field}.script`, fail));
  const scriptPath = script === undefined ? undefined : need(() => insideRoot(root, script, `${field}.script`, fail));
  const timeoutMs = step.timeout_ms ?? DEFAULT_TIMEOUT_MS;
  need(
    () =>
      isPositiveInteger(timeoutMs) ||
      fail(`${field}.timeout_ms`, `expected a positive integer of milliseconds, got ${describe(timeoutMs)}`),
  );
  // cwd may leave the flow folder on purpose (a flow that works on the repository holding it uses "../..").
  const cwd = step.cwd === undefined ? undefined : need(() => readString(step.cwd, `${field}.cwd`, fail));
  if (cwd !== undefined)
    need(() => !isAbsolute(cwd) || fail(`${field}.cwd`, `expected a path relative to the flow folder, got "${cwd}"`));
  const stepTrigger = need(() =>
    parseTrigger(readTable(step.trigger, `${field}.trigger`, fail), `${field}.trigger`, root, fail, collect),
  );
  const policy = need(() => parseStepPolicy(step, field, fail));
  const approval = collect(() => parseApproval(step.approval, `${field}.approval`, fail) ?? null);
  if (!ok || !stepTrigger || approval === undefined) return undefined;
  const parsed: FlowStep = {
    name,
    runner: runner as Runner,
    script,
    scriptPath: scriptPath!,
    timeoutMs: timeoutMs as number,
    workingDirectory: resolve(root, cwd ?? "."),
    trigger: stepTrigger,
    policy,
  };
  if (cwd !== undefined) parsed.cwd = cwd;
  const warm = parseWarm(step.warm, runner as Runner, `${field}.warm`, fail);
  if (warm) parsed.warm = warm;
  if (approval) parsed.approval = approval;
  return parsed;
}

/** A step's `[steps.trigger]`; undefined when one of its fields is wrong (each kept by `collect`). */
function parseTrigger(
  trigger: Table,
  field: string,
  root: string,
  fail: Fail,
  collect: Collect,
): StepTrigger | undefined {
  let ok = checkKeys(trigger, TRIGGER_KEYS, field, fail, collect);
  const type = collect(() => readString(trigger.type, `${field}.type`, fail));
  if (type !== undefined && (type.length > EVENT_TYPE_MAX || !EVENT_TYPE.test(type))) {
    ok =
      collect(() =>
        fail(
          `${field}.type`,
          `expected dot-separated segments of letters, digits and _ - : / @ + (e.g. upstream.release), got "${type}"`,
        ),
      ) ?? false;
  }
  const schema =
    trigger.schema === undefined ? undefined : collect(() => readString(trigger.schema, `${field}.schema`, fail));
  const schemaPath =
    schema === undefined ? undefined : collect(() => insideRoot(root, schema, `${field}.schema`, fail));
  const debounce = collect(() => parseDebounce(trigger, field, fail) ?? null);
  if (!ok || type === undefined || (trigger.schema !== undefined && schemaPath === undefined) || debounce === undefined)
    return undefined;
  const parsed: StepTrigger = schema === undefined ? { type } : { type, schema, schemaPath };
  if (debounce) parsed.debounce = debounce;
  return parsed;
}

/** A path as written must resolve to something strictly inside the flow folder (absolute paths included). */
export function insideRoot(root: string, written: string, field: string, fail: Fail): string {
  const absolute = resolve(root, written);
  if (!strictlyInside(root, absolute)) fail(field, `"${written}" must be a path inside the flow folder ${root}`);
  return absolute;
}

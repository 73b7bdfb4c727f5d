import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { tempDir } from "./temp.ts";

export type StepSpec = {
  name: string;
  type: string;
  source: string;
  schema?: object;
  timeoutMs?: number;
  runner?: string /** Raw TOML lines for the step, e.g. `retries = 2`. */;
  extra?: string /** Raw TOML lines for its trigger, e.g. `debounce_ms = 100`. */;
  trigger?: string;
};

/**
 * Writes a working directory with `flows/<name>/` packages: a flow.toml, one script per
 * step and its trigger schema. Returns the working directory.
 */
export function writeFlows(flows: Record<string, StepSpec[]>, cwd = tempDir("codex-flows-cwd-")): string {
  for (const [name, steps] of Object.entries(flows)) {
    const root = join(cwd, "flows", name);
    const toml = [`name = "${name}"`, "version = 1", ""];
    for (const step of steps) {
      write(join(root, "exec", `${step.name}.ts`), step.source);
      toml.push(
        "[[steps]]",
        `name = "${step.name}"`,
        `runner = "${step.runner ?? "bun"}"`,
        `script = "exec/${step.name}.ts"`,
      );
      if (step.timeoutMs) toml.push(`timeout_ms = ${step.timeoutMs}`);
      if (step.extra) toml.push(step.extra);
      toml.push("", "[steps.trigger]", `type = "${step.type}"`);
      if (step.trigger) toml.push(step.trigger);
      if (step.schema) {
        write(join(root, "schemas", `${step.name}.schema.json`), JSON.stringify(step.schema));
        toml.push(`schema = "schemas/${step.name}.schema.json"`);
      }
      toml.push("");
    }
    write(join(root, "flow.toml"), toml.join("\n"));
  }
  return cwd;
}

/** A step script that echoes what it received and ends with the given FLOW_RESULT status. */
export function echoStep(status = "completed"): string {
  return `const input = JSON.parse(await Bun.stdin.text());
console.log("hello from " + input.flow.step);
console.error("note on stderr");
console.log("FLOW_RESULT " + JSON.stringify({ status: ${JSON.stringify(status)}, message: "payload " + JSON.stringify(input.flow.event.payload), attempt: process.env.CODEX_FLOW_ATTEMPT }));
`;
}

function write(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

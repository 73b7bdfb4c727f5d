import { duration, h, jsonBlock } from "./dom.ts";

type Command = Record<string, unknown>;

const text = (value: unknown): string | undefined =>
  typeof value === "string" ? value : Array.isArray(value) ? value.map(String).join(" ") : undefined;

/** What a recorded command ran: its label, then its argv or shell line. */
function commandLine(command: Command): string {
  return (
    text(command.command) ?? text(command.argv) ?? text(command.cmd) ?? text(command.shell) ?? text(command.line) ?? ""
  );
}

function exitCodeOf(command: Command): number | null {
  for (const key of ["exitCode", "exit_code", "code", "status"])
    if (typeof command[key] === "number") return command[key] as number;
  return null;
}

/**
 * Whether the flow says this command's non-zero exit was an answer it expected (a probe
 * such as `npm view` of a version not published yet), not a failure: `expected: true`,
 * or `expected: "why"` (docs/flows.md, "Commands in artifacts").
 */
function expectedWhy(command: Command): string | null {
  if (command.expected === true) return "the flow expected this exit";
  return typeof command.expected === "string" && command.expected !== "" ? command.expected : null;
}

/** One recorded command: label and line, working directory, exit code (an expected one not as a failure), and its output folded away. */
function commandItem(command: Command, index: number): HTMLElement {
  const code = exitCodeOf(command);
  const label = text(command.label) ?? text(command.name);
  const line = commandLine(command);
  const output = ["output", "stdout", "stderr"]
    .filter((k) => typeof command[k] === "string" && command[k] !== "")
    .map((k) => `${k === "output" ? "" : `[${k}]\n`}${command[k] as string}`)
    .join("\n");
  const ok = code === 0;
  const expected = ok ? null : expectedWhy(command);
  const state = code === null && !expected ? "" : ok ? "ok" : expected ? "expected" : "failed";
  return h(
    "li",
    { class: `command ${state}` },
    h(
      "div",
      { class: "command-head" },
      h(
        "span",
        { class: `exit ${state || "failed"}`, title: expected ? `exit code, expected: ${expected}` : "exit code" },
        code === null ? "exit ?" : `exit ${code}`,
      ),
      expected ? h("span", { class: "expected-mark" }, `expected: ${expected}`) : null,
      h("strong", {}, label ?? `command ${index + 1}`),
      typeof command.durationMs === "number" ? h("span", { class: "muted" }, ` ${duration(command.durationMs)}`) : null,
    ),
    line ? h("code", { class: "command-line" }, line) : null,
    typeof command.cwd === "string" ? h("div", { class: "muted small" }, `in ${command.cwd}`) : null,
    output
      ? h(
          "details",
          {},
          h(
            "summary",
            {},
            `output (${output.length} chars)${command.truncated || command.outputTruncated ? ", truncated" : ""}`,
          ),
          h("pre", { class: "output", tabindex: 0 }, output),
        )
      : null,
  );
}

/**
 * A result's artifacts: a release flow's `commands` as a readable list with exit codes
 * and collapsible output; whatever else the step returned as JSON.
 */
export function artifactsView(artifacts: unknown): HTMLElement | null {
  if (artifacts === undefined || artifacts === null) return null;
  const record =
    typeof artifacts === "object" && !Array.isArray(artifacts) ? (artifacts as Record<string, unknown>) : undefined;
  const commands = Array.isArray(record?.commands)
    ? (record.commands as unknown[]).filter((c): c is Command => typeof c === "object" && c !== null)
    : [];
  const rest = record
    ? Object.fromEntries(Object.entries(record).filter(([k]) => k !== "commands" || commands.length === 0))
    : artifacts;
  return h(
    "section",
    { "aria-labelledby": "artifacts-h" },
    h("h2", { id: "artifacts-h" }, "Artifacts"),
    commands.length
      ? h("ol", { class: "commands", "aria-label": "Commands the step ran" }, commands.map(commandItem))
      : null,
    record && Object.keys(rest as object).length === 0 ? null : jsonBlock(rest),
  );
}

// Item 18 of issue 18: payload text a step prints (and a run's error) must not drive the
// terminal of whoever runs `flow logs` or `flow runs`: on a terminal, control characters
// come out escaped and visible; piped, the output stays byte for byte as recorded.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type RunningSystem, startSystem } from "../services/runtime/system.ts";
import { writeFlows } from "./support/flows.ts";
import { json } from "./support/http.ts";
import { testConfig, useNatsServer } from "./support/nats.ts";
import { REPO, useProcesses } from "./support/processes.ts";

const nats = useNatsServer();
const cli = useProcesses();
let system: RunningSystem;

// A window title (OSC), a screen clear, a fake colour, and the one-character C1 CSI.
const HOSTILE = "\u001b]0;owned\u0007\u001b[2J\u001b[31mFAKE OK\u009b0m";
const SHOWN = "\\x1b]0;owned\\x07\\x1b[2J\\x1b[31mFAKE OK\\x9b0m";
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

const step = `const { flow } = JSON.parse(await Bun.stdin.text());
console.log("out: " + flow.event.payload.text);
console.error("err: " + flow.event.payload.text + "\\tTAB");
process.exit(3);
`;

beforeAll(async () => {
  system = await startSystem(
    testConfig({ cwd: writeFlows({ shout: [{ name: "echo", type: "text.posted", source: step }] }) }),
    nats.url,
    ["ingress", "matcher", "executor", "projector"],
  );
  nats.cleanup(() => system.stop());
});
afterAll(() => cli.stopAll());

/** Runs `flow ARGS` in a pseudo-terminal (util-linux `script`); what the terminal received, CRs of its line discipline dropped. */
async function inTerminal(args: string[]): Promise<string> {
  const command = [process.execPath, "run", `${REPO}/bin/flow.ts`, ...args].map((arg) => `'${arg}'`).join(" ");
  const child = Bun.spawn(["script", "-qec", command, "/dev/null"], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", TERM: "xterm" },
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  return out.replaceAll("\r\n", "\n");
}

describe("user data on a terminal", () => {
  let runId: string;
  beforeAll(async () => {
    const answer = await json(
      fetch(`${system.ingressUrl}/events?wait=true`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ id: "shout-1", type: "text.posted", payload: { text: HOSTILE } }),
      }),
    );
    expect(answer.runs.map((run: { status: string }) => run.status)).toEqual(["failed"]);
    runId = answer.runIds[0];
  });

  test("flow logs RUN: the step's output shows the escapes as text, newlines and tabs kept", async () => {
    const out = await inTerminal(["logs", runId, "--url", system.ingressUrl!]);
    expect(out).toContain(`out: ${SHOWN}\n`);
    expect(out).toContain(`err: ${SHOWN}\tTAB\n`);
    expect(out).not.toMatch(RAW_CONTROL);
  });

  test("flow runs --event ID: the run's error (the step's last stderr line) shows the escapes as text", async () => {
    const out = await inTerminal(["runs", "--event", "shout-1", "--url", system.ingressUrl!]);
    expect(out).toContain(`exited with code 3: err: ${SHOWN}\\x09TAB`);
    expect(out).not.toMatch(RAW_CONTROL);
  });

  test("flow runs --json on a terminal: JSON Lines with the C1 control escaped too, still parseable", async () => {
    const out = await inTerminal(["runs", "--event", "shout-1", "--json", "--url", system.ingressUrl!]);
    expect(out).not.toMatch(RAW_CONTROL);
    expect(out).toContain("\\u009b0m");
    expect(JSON.parse(out.trimEnd()).error).toBe(`exited with code 3: err: ${HOSTILE}\tTAB`);
  });

  test("piped (not a terminal), flow logs prints the output exactly as recorded", async () => {
    const { code, stdout } = await cli.run(["logs", runId, "--url", system.ingressUrl!]);
    expect(code).toBe(0);
    expect(stdout).toContain(`out: ${HOSTILE}`);
  });
});

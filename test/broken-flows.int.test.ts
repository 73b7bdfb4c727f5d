import { beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startSystem } from "../services/runtime/system.ts";
import { echoStep, writeFlows } from "./support/flows.ts";
import { json } from "./support/http.ts";
import { testConfig, useNatsServer } from "./support/nats.ts";
import { useProcesses } from "./support/processes.ts";
import { tableRows } from "./support/table.ts";

const nats = useNatsServer();
const cli = useProcesses();
let url: string;
let cwd: string;
const logged: string[] = [];

beforeAll(async () => {
  cwd = writeFlows({
    mixed: [
      { name: "healthy", type: "note.posted", source: echoStep() },
      { name: "gone", type: "note.posted", source: echoStep() },
    ],
  });
  rmSync(join(cwd, "flows", "mixed", "exec", "gone.ts"));
  mkdirSync(join(cwd, "flows", "wrecked"), { recursive: true });
  writeFileSync(join(cwd, "flows", "wrecked", "flow.toml"), 'name = "wrecked"\n[[steps]\n');
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => (
    logged.push(String(chunk)), write(chunk, ...rest)
  )) as typeof process.stderr.write;
  try {
    const system = await startSystem(testConfig({ cwd }), nats.url, ["ingress", "matcher", "executor", "projector"]);
    url = system.ingressUrl!;
    nats.cleanup(() => system.stop());
  } finally {
    process.stderr.write = write;
  }
});

describe("a flow with one broken step", () => {
  test("its healthy steps run; the broken step and the broken flow appear in the event's decisions", async () => {
    const answer = await json(
      fetch(`${url}/events?wait=true`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ id: "mixed-1", type: "note.posted" }),
      }),
    );
    expect(answer.matched).toBe(1);
    expect(answer.runs[0]).toMatchObject({ flowName: "mixed", stepName: "healthy", status: "completed" });
    const { event } = await json(fetch(`${url}/events/mixed-1`));
    const reasons = event.decisions.flatMap((d: { reasons: string[] }) => d.reasons).join("\n");
    expect(reasons).toContain("flow mixed step gone not loaded:");
    expect(reasons).toContain('script "exec/gone.ts" not found');
    expect(reasons).toContain("flow wrecked not loaded:");
  });

  test("/healthz names what did not load; the log says it once", async () => {
    const health = await json(fetch(`${url}/healthz`));
    expect(health.flows.loaded).toEqual(["mixed"]);
    expect(health.flows.problems.join("\n")).toContain("steps[1].script");
    expect(health.flows.problems.join("\n")).toContain("wrecked");
    expect(logged.filter((line) => line.includes("exec/gone.ts")).length).toBe(1);
  });

  test("flow list shows the healthy step and exits non-zero", async () => {
    const { code, stdout, stderr } = await cli.run(["list", "--cwd", cwd]);
    expect(code).toBe(1);
    expect(tableRows(stdout).map((row) => `${row.FLOW}/${row.STEP} ${row.RUNNER}`)).toEqual(["mixed/healthy bun"]);
    expect(stderr).toContain("gone");
    expect(stderr).toContain("wrecked");
  });
});

// Issue 9, item 4: the finished record always fits max_payload. Tails are cut first;
// a FLOW_RESULT that still cannot fit, or cannot even be kept (a 50 MB line), ends the
// run `failed` with its size, after one attempt, whatever the step's retries.
import { beforeAll, describe, expect, test } from "bun:test";
import { DEFAULT_MAX_PAYLOAD, HEADER_ALLOWANCE } from "../lib/nats/payload.ts";
import { DEFAULT_OUTPUT_CAP_BYTES } from "../lib/runners/index.ts";
import { type RunningSystem, startSystem } from "../services/runtime/system.ts";
import { writeFlows } from "./support/flows.ts";
import { json } from "./support/http.ts";
import { testConfig, useNatsServer } from "./support/nats.ts";

const nats = useNatsServer();
let system: RunningSystem;
let url: string;

/** A step printing `noise` bytes on stdout and stderr, then a FLOW_RESULT whose message is `size` characters. */
const resultOf = (size: number, noise = 0) => `const noise = "n".repeat(${noise});
if (noise) { console.log(noise); console.error(noise); }
process.stdout.write("FLOW_RESULT " + JSON.stringify({ status: "completed", message: "x".repeat(${size}) }) + "\\n");
`;
const SHELL = JSON.stringify({ status: "completed", message: "" }).length;
const LIMIT = DEFAULT_MAX_PAYLOAD - HEADER_ALLOWANCE;
const RESULT_ROOM = LIMIT - 8192;

beforeAll(async () => {
  const cwd = writeFlows({
    sizes: [
      { name: "fits", type: "result.fits", source: resultOf(990_000, 100_000) },
      { name: "near", type: "result.near", source: resultOf(1_040_000) },
      { name: "huge", type: "result.huge", source: resultOf(50_000_000), extra: "retries = 2", timeoutMs: 60_000 },
    ],
  });
  system = await startSystem(testConfig({ cwd }), nats.url, ["ingress", "matcher", "executor", "projector"]);
  url = system.ingressUrl!;
  nats.cleanup(() => system.stop());
});

const runFor = async (type: string) => {
  const answer = await json(
    fetch(`${url}/events?wait=true`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: `${type}-1`, type }),
    }),
  );
  expect(answer.runs).toHaveLength(1);
  const { run } = await json(fetch(`${url}/runs/${answer.runIds[0]}`));
  return run;
};

describe("FLOW_RESULT size", () => {
  test("a 990 KB result with 100 KB of output on each stream completes: the tails are cut, the result is whole", async () => {
    const run = await runFor("result.fits");
    expect(run).toMatchObject({
      status: "completed",
      attempt: 1,
      error: null,
      stdoutTruncated: true,
      stderrTruncated: true,
    });
    expect(run.result.message).toHaveLength(990_000);
    expect(Buffer.byteLength(run.stdout) + Buffer.byteLength(run.stderr)).toBeLessThan(LIMIT - 990_000);
  });

  test("a result near 1 MB fails after one attempt with its size and the limit", async () => {
    const run = await runFor("result.near");
    expect(run).toMatchObject({
      status: "failed",
      attempt: 1,
      result: null,
      error: `FLOW_RESULT too large (${SHELL + 1_040_000} bytes, limit ${RESULT_ROOM})`,
    });
    expect(run.attempts).toHaveLength(1);
  });

  test("a 50 MB result line is too large, not missing, and is not retried despite retries = 2", async () => {
    const run = await runFor("result.huge");
    expect(run).toMatchObject({
      status: "failed",
      attempt: 1,
      result: null,
      error: `FLOW_RESULT too large (${SHELL + 50_000_000} bytes, limit ${DEFAULT_OUTPUT_CAP_BYTES - "FLOW_RESULT ".length})`,
    });
    expect(run.attempts).toHaveLength(1);
  });
});

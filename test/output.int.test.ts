import { beforeAll, describe, expect, test } from "bun:test";
import { type RunningSystem, startSystem } from "../services/runtime/system.ts";
import { writeFlows } from "./support/flows.ts";
import { json } from "./support/http.ts";
import { testConfig, useNatsServer } from "./support/nats.ts";

const nats = useNatsServer();
let url: string;

beforeAll(async () => {
  const cwd = writeFlows({
    talk: [
      {
        name: "slow",
        type: "talk.slow",
        source: `for (let i = 1; i <= 4; i++) { console.log("line " + i); await Bun.sleep(150); }
console.error("a warning");
console.log("FLOW_RESULT " + JSON.stringify({ status: "completed" }));`,
      },
      {
        name: "flood",
        type: "talk.flood",
        source: `for (let i = 0; i < 1000; i++) console.log("flood " + String(i).padStart(4, "0") + " " + "y".repeat(90));\nconsole.log("FLOW_RESULT {\\"status\\":\\"completed\\"}");`,
      },
      {
        name: "chatty",
        type: "talk.chatty",
        source: `for (let i = 0; i < 200; i++) console.log("chunk " + String(i).padStart(3, "0") + " " + "x".repeat(90));\nconsole.log("FLOW_RESULT {\\"status\\":\\"completed\\"}");`,
      },
    ],
  });
  const config = testConfig({ cwd, outputRetentionBytes: 4096, liveOutputBytes: 64 * 1024 });
  const system: RunningSystem = await startSystem(config, nats.url, ["ingress", "matcher", "executor", "projector"]);
  url = system.ingressUrl!;
  nats.cleanup(() => system.stop());
});

type Frame = { event: string; data: any; at: number };

/** Reads a whole SSE response into frames, with the time each arrived. */
async function frames(response: Response): Promise<Frame[]> {
  const out: Frame[] = [];
  let buffer = "";
  for await (const text of response.body!.pipeThrough(new TextDecoderStream())) {
    buffer += text;
    let end: number;
    while ((end = buffer.indexOf("\n\n")) !== -1) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      out.push({
        event: frame.match(/^event: (.*)$/m)![1]!,
        data: JSON.parse(frame.match(/^data: (.*)$/m)![1]!),
        at: Date.now(),
      });
    }
  }
  return out;
}

const fire = async (id: string, type: string) =>
  (
    await json(
      fetch(`${url}/events?wait=matched`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ id, type }),
      }),
    )
  ).runIds[0] as string;

describe("live output", () => {
  test("a client following a running step gets its lines as they are written, then the end with the status", async () => {
    const runId = await fire("talk-1", "talk.slow");
    const response = await fetch(`${url}/runs/${runId}/output`);
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const got = await frames(response);
    const output = got.filter((f) => f.event === "output");
    expect(output.map((f) => f.data.text).join("")).toContain("line 1\nline 2\nline 3\nline 4\n");
    expect(output.some((f) => f.data.stream === "stderr" && f.data.text.includes("a warning"))).toBe(true);
    expect(got.at(-1)).toMatchObject({ event: "end", data: { status: "completed" } });
    // Live: the first line arrived well before the end (the step takes 600 ms).
    expect(got.at(-1)!.at - output[0]!.at).toBeGreaterThan(250);
  });

  test("a client that connects after the run ended gets everything that was kept, and JSON on request", async () => {
    const runId = await fire("talk-2", "talk.slow");
    await frames(await fetch(`${url}/runs/${runId}/output`));
    const replay = await frames(await fetch(`${url}/runs/${runId}/output?follow=false`));
    expect(
      replay
        .filter((f) => f.event === "output")
        .map((f) => f.data.text)
        .join(""),
    ).toContain("line 4");
    const asJson = await json(fetch(`${url}/runs/${runId}/output`, { headers: { accept: "application/json" } }));
    expect(asJson).toMatchObject({ runId, status: "completed", cut: false });
    expect(asJson.output.map((o: { kind: string }) => o.kind)).toContain("stdout");
  });

  test("output past the retention limit keeps the tail and the API says it was cut", async () => {
    const runId = await fire("talk-3", "talk.chatty");
    await frames(await fetch(`${url}/runs/${runId}/output`));
    const { run } = await json(fetch(`${url}/runs/${runId}`));
    expect(run.outputCut).toBe(true);
    const kept = await json(fetch(`${url}/runs/${runId}/output`, { headers: { accept: "application/json" } }));
    const text = kept.output.map((o: { text: string }) => o.text).join("");
    expect(kept.cut).toBe(true);
    expect(text).toContain("chunk 199");
    expect(text).not.toContain("chunk 000");
    expect(text.length).toBeLessThanOrEqual(4096);
  });

  test("live output stops at its cap and says so; once the run ends its output (as flow logs reads it) ends with the recorded tail, saying what was cut", async () => {
    const runId = await fire("talk-4", "talk.flood");
    const streamed = (await frames(await fetch(`${url}/runs/${runId}/output`))).filter((f) => f.event === "output");
    const { run } = await json(fetch(`${url}/runs/${runId}`));
    expect(run.status).toBe("completed");
    const stopAt = streamed.findIndex((f) => f.data.text.includes("live output stopped at 65536 bytes"));
    expect(stopAt).toBeGreaterThan(0);
    expect(streamed[stopAt + 1]!.data.text).toContain("[the end of the output follows: the last");
    expect(streamed[stopAt + 1]!.data.text).toContain("what lies between was not kept");
    expect(
      streamed
        .slice(stopAt + 2)
        .map((f) => f.data.text)
        .join(""),
    ).toContain("flood 0999");
    expect(run.stdout).toContain("flood 0999");
    const kept = await json(fetch(`${url}/runs/${runId}/output`, { headers: { accept: "application/json" } }));
    expect(kept.output.map((o: { text: string }) => o.text).join("")).toMatch(
      /the end of the output follows[\s\S]*flood 0999/,
    );
  });

  test("an unknown run's output is 404", async () => {
    expect((await fetch(`${url}/runs/run-nope/output`)).status).toBe(404);
  });
});

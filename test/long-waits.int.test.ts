import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { idleTimeoutSeconds } from "../services/ingress/service.ts";
import { writeFlows } from "./support/flows.ts";
import { eventually, testConfig, useNatsServer } from "./support/nats.ts";
import { startTestSystem } from "./support/system.ts";

setDefaultTimeout(90_000);
const nats = useNatsServer();
let url: string;
const post = (path: string, body: unknown) =>
  fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

beforeAll(async () => {
  const cwd = writeFlows({
    slow: [
      {
        name: "quiet",
        type: "slow.quiet",
        timeoutMs: 60_000,
        source: 'await Bun.sleep(33_000);\nconsole.log("FLOW_RESULT {\\"status\\":\\"completed\\"}");',
      },
    ],
    talk: [
      {
        name: "count",
        type: "talk.count",
        source:
          'for (let i = 1; i <= 4; i++) { console.log("tick " + i); await Bun.sleep(1_100); }\nconsole.log("FLOW_RESULT {\\"status\\":\\"completed\\"}");',
      },
    ],
  });
  const system = await startTestSystem(nats, testConfig({ cwd, waitTimeoutMs: 45_000 }));
  url = system.ingressUrl!;
});

/** The SSE frames of a response body, read to its end. */
async function frames(response: Response): Promise<string[]> {
  return (await response.text()).split("\n\n").filter((frame) => frame.trim() !== "");
}

describe("waits up to the configured limit complete", () => {
  test("a ?wait=true of a 33 s step and a quiet SSE stream of it both outlive the old 30 s idle cut; the stream sends keep-alives", async () => {
    expect(idleTimeoutSeconds(45_000)).toBeGreaterThan(45);
    const waiting = post("/events?wait=true", { id: "quiet-1", type: "slow.quiet" });
    const { runs } = await eventually(async () => {
      const page = (await (await fetch(`${url}/runs?eventId=quiet-1`)).json()) as {
        runs: { id: string; status: string }[];
      };
      return page.runs[0]?.status === "running" ? page : undefined;
    });
    const stream = fetch(`${url}/runs/${runs[0]!.id}/output`, { headers: { accept: "text/event-stream" } });
    const answer = await waiting;
    expect(answer.status).toBe(202);
    const body = (await answer.json()) as { runs: { status: string }[]; waitTimedOut?: boolean };
    expect(body.waitTimedOut).toBeUndefined();
    expect(body.runs[0]!.status).toBe("completed");
    const seen = await frames(await stream);
    expect(seen.filter((f) => f.startsWith(": keep-alive")).length).toBeGreaterThanOrEqual(2);
    expect(seen.at(-1)).toContain('"status":"completed"');
  });

  test("Last-Event-ID resumes a run's output after the last event seen, without repeats", async () => {
    const { runIds } = (await (await post("/events?wait=true", { id: "talk-1", type: "talk.count" })).json()) as {
      runIds: string[];
    };
    const all = await frames(await fetch(`${url}/runs/${runIds[0]}/output`));
    const outputs = all.filter((f) => f.includes("event: output") && f.startsWith("id: "));
    expect(outputs.length).toBeGreaterThanOrEqual(2);
    const firstId = outputs[0]!.match(/^id: (.*)$/m)![1]!;
    const resumed = await frames(
      await fetch(`${url}/runs/${runIds[0]}/output`, { headers: { "last-event-id": firstId } }),
    );
    const text = (list: string[]) =>
      list
        .filter((f) => f.includes("event: output"))
        .map((f) => f.match(/^data: (.*)$/m)![1])
        .join("");
    expect(text(resumed)).toBe(text(all.slice(all.indexOf(outputs[0]!) + 1)));
    expect(text(resumed)).not.toContain("tick 1\\n");
  });
});

import { beforeAll, describe, expect, test } from "bun:test";
import { callApi } from "../cli/client.ts";
import { signBody } from "../lib/signature.ts";
import { type RunningSystem, startSystem } from "../services/runtime/system.ts";
import { echoStep, writeFlows } from "./support/flows.ts";
import { json } from "./support/http.ts";
import { eventually, testConfig, useNatsServer } from "./support/nats.ts";

const nats = useNatsServer();
const SECRET = "operator-hmac-secret";
let url: string;
let runId: string;

/** A POST as an unsigned client (no token is set on this system). */
const unsigned = (path: string, body?: unknown) =>
  fetch(`${url}${path}`, {
    method: "POST",
    ...(body === undefined ? {} : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
  });

beforeAll(async () => {
  const cwd = writeFlows({ notes: [{ name: "write", type: "note.posted", source: echoStep() }] });
  // A secret and no token: signers may write, nobody else may start work.
  const system: RunningSystem = await startSystem(
    testConfig({ cwd, secret: SECRET, waitTimeoutMs: 10_000 }),
    nats.url,
    ["ingress", "matcher", "executor", "projector"],
  );
  url = system.ingressUrl!;
  nats.cleanup(() => system.stop());
  const posted = await callApi({ url, secret: SECRET }, "POST", "/events?wait=true", {
    id: "op-1",
    type: "note.posted",
    payload: {},
  });
  expect(posted.body.runs[0].status).toBe("completed");
  runId = posted.body.runIds[0];
});

describe("with a secret set and no token", () => {
  test("an unsigned client cannot replay, bulk replay, retry, cancel, pause or resume: 401 naming the signature", async () => {
    const since = new Date(Date.now() - 3_600_000).toISOString();
    const attempts = {
      replay: await unsigned("/events/op-1/replay"),
      replayWithBody: await unsigned("/events/op-1/replay", { wait: false }),
      bulkReplay: await unsigned("/replays", { type: "note.posted", since, dryRun: false }),
      retry: await unsigned(`/runs/${runId}/retry`),
      cancel: await unsigned(`/runs/${runId}/cancel`),
      pause: await unsigned("/flows/notes/pause", {}),
      resume: await unsigned("/flows/notes/resume"),
    };
    for (const [what, answer] of Object.entries(attempts)) {
      expect({ what, status: answer.status, error: (await json(answer)).error }).toEqual({
        what,
        status: 401,
        error: expect.stringContaining("x-flow-signature-256"),
      });
    }
    const runs = await json(fetch(`${url}/runs?eventId=op-1`));
    expect(runs.runs.map((r: { attempt: number; generation: number }) => [r.attempt, r.generation])).toEqual([[1, 0]]);
    expect((await json(fetch(`${url}/flows`))).flows[0].paused).toBe(false);
  });

  test("a signed request does them; an empty body is signed as the empty string; the CLI's client signs", async () => {
    const empty = await fetch(`${url}/runs/${runId}/retry`, {
      method: "POST",
      headers: { "x-flow-signature-256": signBody(SECRET, "") },
    });
    expect(empty.status).toBe(202);
    const cli = { url, secret: SECRET };
    expect((await callApi(cli, "POST", "/flows/notes/pause", {})).status).toBe(200);
    expect((await callApi(cli, "POST", "/flows/notes/resume", {})).status).toBe(200);
    expect((await callApi(cli, "POST", "/events/op-1/replay", { wait: false })).body).toMatchObject({
      status: "accepted",
      generation: 1,
    });
    expect(
      (
        await callApi(cli, "POST", "/replays", {
          type: "note.posted",
          since: new Date(Date.now() - 3_600_000).toISOString(),
        })
      ).body,
    ).toMatchObject({ dryRun: true, count: 1 });
    // A wrong signature is no signature.
    expect(
      (
        await fetch(`${url}/runs/${runId}/cancel`, {
          method: "POST",
          headers: { "x-flow-signature-256": signBody("guess", "") },
        })
      ).status,
    ).toBe(401);
    // The audit log names a signer `hmac` (the secret has no name of its own); a dry run is no action.
    const actions = async () =>
      (await json(fetch(`${url}/audit`))).entries.map(
        (e: { actor: string; action: string }) => `${e.actor} ${e.action}`,
      );
    await eventually(async () => (await actions()).length >= 4, 10_000, "four audit records");
    expect(await actions()).toEqual(["hmac replay", "hmac resume", "hmac pause", "hmac retry"]);
  });
});

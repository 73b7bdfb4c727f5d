// Issue 24 item 3: GitHub's webhooks (and GitLab's, Gitea's by a mapping) taken directly at
// POST /webhooks/<source>: signed as the sender signs, its delivery id the event id, its
// event (and action) the type, the body the payload; through the real system.
import { beforeAll, describe, expect, test } from "bun:test";
import { createHmac, randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadWebhookSources } from "../lib/webhooks/config.ts";
import { type RunningSystem, startSystem } from "../services/runtime/system.ts";
import {
  GITEA_PUSH,
  GITHUB_PING,
  GITHUB_PULL_REQUEST_OPENED,
  GITHUB_PUSH,
  GITHUB_RELEASE_PUBLISHED,
  GITLAB_PUSH,
} from "./fixtures/webhooks.ts";
import { echoStep, writeFlows } from "./support/flows.ts";
import { json } from "./support/http.ts";
import { eventually, testConfig, useNatsServer } from "./support/nats.ts";
import { tempDir } from "./support/temp.ts";

const GITHUB_SECRET = "It's a Secret to Everybody";
const GITEA_SECRET = "gitea-secret-4b1d";
const GITLAB_TOKEN = "gitlab-token-9c2e";

const SOURCES = `
[[sources]]
name = "gitlab"
secret_env = "GITLAB_WEBHOOK_TOKEN"
signature = "token"
signature_header = "X-Gitlab-Token"
id = "header:X-Gitlab-Event-UUID"
type = ["body:object_kind", "body:object_attributes.action"]

[[sources]]
name = "gitea"
secret_env = "GITEA_WEBHOOK_SECRET"
signature = "hmac-sha256"
signature_header = "X-Gitea-Signature"
id = "header:X-Gitea-Delivery"
type = ["header:X-Gitea-Event", "body:action"]
`;

const nats = useNatsServer();
let url: string;
let offUrl: string;

beforeAll(async () => {
  const cwd = writeFlows({ repo: [{ name: "on-push", type: "github.push", source: echoStep() }] });
  const file = join(tempDir("webhook-sources-"), "sources.toml");
  writeFileSync(file, SOURCES);
  const webhookSources = loadWebhookSources(file, {
    GITLAB_WEBHOOK_TOKEN: GITLAB_TOKEN,
    GITEA_WEBHOOK_SECRET: GITEA_SECRET,
  });
  const system: RunningSystem = await startSystem(
    testConfig({ cwd, githubWebhookSecret: GITHUB_SECRET, webhookSources }),
    nats.url,
    ["ingress", "matcher", "executor", "projector"],
  );
  // An ingress without CODEX_FLOW_GITHUB_WEBHOOK_SECRET.
  const off: RunningSystem = await startSystem(testConfig({ cwd }), nats.url, ["ingress"]);
  url = system.ingressUrl!;
  offUrl = off.ingressUrl!;
  nats.cleanup(() => system.stop());
  nats.cleanup(() => off.stop());
});

/** Signs as GitHub documents it: X-Hub-Signature-256 = sha256=<hex HMAC-SHA256 of the payload bytes>. */
const githubSign = (body: string, secret = GITHUB_SECRET) =>
  `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

function github(
  event: string,
  payload: object,
  options: { delivery?: string; signature?: string | null; base?: string } = {},
) {
  const body = JSON.stringify(payload);
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "user-agent": "GitHub-Hookshot/044aadd",
    "x-github-event": event,
    "x-github-delivery": options.delivery ?? randomUUID(),
    "x-github-hook-id": "292430182",
  };
  const signature = options.signature === undefined ? githubSign(body) : options.signature;
  if (signature !== null) headers["x-hub-signature-256"] = signature;
  return fetch(`${options.base ?? url}/webhooks/github`, { method: "POST", headers, body });
}

const stored = (id: string) => fetch(`${url}/events/${encodeURIComponent(id)}`);

describe("POST /webhooks/github", () => {
  test("push, release published and pull_request opened, signed as GitHub signs: stored with the delivery id, github.<event>[.<action>], the whole body (repository and sender kept)", async () => {
    const cases = [
      { event: "push", payload: GITHUB_PUSH, type: "github.push" },
      { event: "release", payload: GITHUB_RELEASE_PUBLISHED, type: "github.release.published" },
      { event: "pull_request", payload: GITHUB_PULL_REQUEST_OPENED, type: "github.pull_request.opened" },
    ];
    for (const { event, payload, type } of cases) {
      const delivery = randomUUID();
      const answer = await github(event, payload, { delivery });
      expect({ type, status: answer.status }).toEqual({ type, status: 202 });
      expect(await json(answer)).toMatchObject({ status: "accepted", eventId: delivery });
      const detail = await eventually(
        async () => {
          const response = await stored(delivery);
          return response.status === 200 && (await json(response));
        },
        15_000,
        `event ${delivery} in the read model`,
      );
      expect(detail.event).toMatchObject({ id: delivery, type, source: "github", payload });
      expect(detail.event.payload.repository.full_name).toBe("Codertocat/Hello-World");
      expect(detail.event.payload.sender.login).toBe("Codertocat");
    }
  });

  test("a flow triggered by github.push runs for the push", async () => {
    const delivery = randomUUID();
    expect((await github("push", GITHUB_PUSH, { delivery })).status).toBe(202);
    const runs = await eventually(
      async () => {
        const page = await json(fetch(`${url}/runs?eventId=${delivery}`));
        return page.runs?.length > 0 && page.runs[0].status === "completed" && page.runs;
      },
      20_000,
      "the push's run to complete",
    );
    expect(runs.map((run: { stepName: string }) => run.stepName)).toEqual(["on-push"]);
  });

  test("a redelivery (the same X-GitHub-Delivery) is answered duplicate and stored once", async () => {
    const delivery = randomUUID();
    const first = await json(github("push", GITHUB_PUSH, { delivery }));
    const again = await github("push", GITHUB_PUSH, { delivery });
    expect(again.status).toBe(202);
    expect(await json(again)).toMatchObject({
      status: "duplicate",
      eventId: delivery,
      seq: first.seq,
      idempotent: true,
    });
  });

  test("ping is answered 200 pong and stores nothing", async () => {
    const delivery = randomUUID();
    const answer = await github("ping", GITHUB_PING, { delivery });
    expect(answer.status).toBe(200);
    expect(await json(answer)).toEqual({ status: "pong", source: "github" });
    expect((await stored(delivery)).status).toBe(404);
  });

  test("unsigned, signed with another secret, or a body changed after signing: 401 naming the header, nothing stored", async () => {
    const body = JSON.stringify(GITHUB_PUSH);
    const tampered = { ...GITHUB_PUSH, ref: "refs/heads/evil" };
    const attempts = [
      { what: "unsigned", delivery: randomUUID(), payload: GITHUB_PUSH, signature: null },
      {
        what: "other secret",
        delivery: randomUUID(),
        payload: GITHUB_PUSH,
        signature: githubSign(body, "not the secret"),
      },
      { what: "tampered", delivery: randomUUID(), payload: tampered, signature: githubSign(body) },
      {
        what: "sha1 form",
        delivery: randomUUID(),
        payload: GITHUB_PUSH,
        signature: `sha1=${createHmac("sha1", GITHUB_SECRET).update(body).digest("hex")}`,
      },
    ];
    for (const { what, delivery, payload, signature } of attempts) {
      const answer = await github("push", payload, { delivery, signature });
      expect({ what, status: answer.status }).toEqual({ what, status: 401 });
      expect((await json(answer)).error).toContain("x-hub-signature-256");
      expect((await stored(delivery)).status).toBe(404);
    }
  });

  test("a body over CODEX_FLOW_MAX_BODY_BYTES is 413; a delivery without X-GitHub-Event is 400; a form-encoded one 415", async () => {
    const big = { ...GITHUB_PUSH, padding: "x".repeat(1_100_000) };
    const answer = await github("push", big);
    expect(answer.status).toBe(413);
    expect((await json(answer)).error).toContain("CODEX_FLOW_MAX_BODY_BYTES");
    const body = JSON.stringify(GITHUB_PUSH);
    const missing = await fetch(`${url}/webhooks/github`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-github-delivery": randomUUID(),
        "x-hub-signature-256": githubSign(body),
      },
      body,
    });
    expect(missing.status).toBe(400);
    expect((await json(missing)).error).toContain("x-github-event");
    // GitHub's other content type, application/x-www-form-urlencoded (payload=...), is refused: docs/webhooks.md says to choose JSON.
    const form = `payload=${encodeURIComponent(body)}`;
    const encoded = await fetch(`${url}/webhooks/github`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "x-github-event": "push",
        "x-github-delivery": randomUUID(),
        "x-hub-signature-256": githubSign(form),
      },
      body: form,
    });
    expect(encoded.status).toBe(415);
  });

  test("without CODEX_FLOW_GITHUB_WEBHOOK_SECRET the route is off: 404 naming the variable, even for a signed post", async () => {
    const answer = await github("push", GITHUB_PUSH, { base: offUrl });
    expect(answer.status).toBe(404);
    expect((await json(answer)).error).toContain("set CODEX_FLOW_GITHUB_WEBHOOK_SECRET");
  });
});

describe("generic senders by CODEX_FLOW_WEBHOOK_SOURCES", () => {
  test("GitLab: X-Gitlab-Token, X-Gitlab-Event-UUID as the id, object_kind (and object_attributes.action) as the type", async () => {
    const uuid = randomUUID();
    const post = (token: string) =>
      fetch(`${url}/webhooks/gitlab`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-gitlab-event": "Push Hook",
          "x-gitlab-token": token,
          "x-gitlab-event-uuid": uuid,
        },
        body: JSON.stringify(GITLAB_PUSH),
      });
    const wrong = await post("not-the-token");
    expect(wrong.status).toBe(401);
    expect((await json(wrong)).error).toContain("x-gitlab-token");
    const answer = await post(GITLAB_TOKEN);
    expect(answer.status).toBe(202);
    expect(await json(answer)).toMatchObject({ status: "accepted", eventId: uuid });
    const detail = await eventually(
      async () => {
        const response = await stored(uuid);
        return response.status === 200 && (await json(response));
      },
      15_000,
      "the GitLab event",
    );
    expect(detail.event).toMatchObject({ id: uuid, type: "gitlab.push", source: "gitlab", payload: GITLAB_PUSH });
  });

  test("Gitea: X-Gitea-Signature (hex HMAC-SHA256, no prefix), X-Gitea-Delivery, X-Gitea-Event; a redelivery is a duplicate", async () => {
    const delivery = randomUUID();
    const body = JSON.stringify(GITEA_PUSH);
    const post = (signature: string) =>
      fetch(`${url}/webhooks/gitea`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-gitea-event": "push",
          "x-gitea-delivery": delivery,
          "x-gitea-signature": signature,
        },
        body,
      });
    expect((await post(createHmac("sha256", "other").update(body).digest("hex"))).status).toBe(401);
    const signature = createHmac("sha256", GITEA_SECRET).update(body).digest("hex");
    const answer = await post(signature);
    expect(answer.status).toBe(202);
    expect(await json(answer)).toMatchObject({ status: "accepted", eventId: delivery });
    expect(await json(post(signature))).toMatchObject({ status: "duplicate", eventId: delivery });
    const detail = await eventually(
      async () => {
        const response = await stored(delivery);
        return response.status === 200 && (await json(response));
      },
      15_000,
      "the Gitea event",
    );
    expect(detail.event).toMatchObject({ id: delivery, type: "gitea.push", source: "gitea", payload: GITEA_PUSH });
  });
});

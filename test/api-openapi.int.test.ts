import { beforeAll, describe, expect, test } from "bun:test";
import { signBody } from "../lib/signature.ts";
import { type RunningSystem, startSystem } from "../services/runtime/system.ts";
import { json } from "./support/http.ts";
import { testConfig, useNatsServer } from "./support/nats.ts";

const nats = useNatsServer();
const TOKEN = "doc-token";
const SECRET = "doc-secret";
let url: string;
let doc: any;

beforeAll(async () => {
  const system: RunningSystem = await startSystem(testConfig({ token: TOKEN, secret: SECRET }), nats.url, [
    "ingress",
    "matcher",
    "projector",
  ]);
  url = system.ingressUrl!;
  nats.cleanup(() => system.stop());
  doc = await json(fetch(`${url}/openapi.json`));
});

const operations = () =>
  Object.entries<Record<string, { security?: unknown[]; responses: Record<string, unknown> }>>(doc.paths).flatMap(
    ([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, op })),
  );
const asToken = { authorization: `Bearer ${TOKEN}` };

describe("the OpenAPI document, generated from the routes' guards", () => {
  test("every operation declares its security; guarded ones list 401, writes 403 and 415, bodies 400 and 413, all 421", () => {
    expect(operations().length).toBeGreaterThanOrEqual(19);
    for (const { path, method, op } of operations()) {
      const statuses = Object.keys(op.responses);
      const where = `${method.toUpperCase()} ${path}`;
      expect({ where, declares: Array.isArray(op.security) }).toEqual({ where, declares: true });
      expect({ where, statuses }).toEqual({ where, statuses: expect.arrayContaining(["421"]) });
      if (op.security!.length > 0)
        expect({ where, statuses }).toEqual({ where, statuses: expect.arrayContaining(["401"]) });
      if (method === "post")
        expect({ where, statuses }).toEqual({ where, statuses: expect.arrayContaining(["400", "403", "413", "415"]) });
    }
    for (const path of ["/flows", "/schedules", "/hosts", "/changes"])
      expect(doc.paths[path].get.security).toEqual([{ bearer: [] }, { apiKey: [] }]);
    expect(Object.keys(doc.paths["/changes"].get.responses)).toEqual(expect.arrayContaining(["429", "503"]));
  });

  test("the parameters say what the handlers accept: after= digits, times ISO-8601, an empty value is none", async () => {
    const changes = doc.paths["/changes"].get.parameters.find((p: { name: string }) => p.name === "after");
    expect(JSON.stringify(changes.schema)).toContain("^[0-9]{1,15}$");
    const badAfter = await fetch(`${url}/changes?after=x`, { headers: asToken });
    expect({ status: badAfter.status, error: (await json(badAfter)).error }).toEqual({
      status: 400,
      error: expect.stringContaining(`after="x" is invalid: expected a stream sequence`),
    });
    const empty = await fetch(
      `${url}/runs?eventId=&flow=&step=&status=&effectiveStatus=&needsAttention=&host=&queue=&since=&until=&limit=&cursor=&order=&after=`,
      { headers: asToken },
    );
    expect(empty.status).toBe(200);
    expect(doc.paths["/replays"].post.requestBody.content["application/json"].schema.properties.since.format).toBe(
      "date-time",
    );
    const body = JSON.stringify({ type: "x.y", since: "" });
    const replay = await fetch(`${url}/replays`, {
      method: "POST",
      headers: { ...asToken, "content-type": "application/json", "x-flow-signature-256": signBody(SECRET, body) },
      body,
    });
    expect({ status: replay.status, error: (await json(replay)).error }).toEqual({
      status: 400,
      error: expect.stringContaining("/since"),
    });
  });
});

describe("the webhook routes (issue 24 item 3)", () => {
  test("POST /webhooks/github is secured by GitHub's signature, reads its two headers, and lists ping's 200, 202, 401, 404, 413 and 503", () => {
    const op = doc.paths["/webhooks/github"].post;
    expect(op.security).toEqual([{ githubSignature: [] }]);
    expect(doc.components.securitySchemes.githubSignature).toMatchObject({
      type: "apiKey",
      in: "header",
      name: "X-Hub-Signature-256",
    });
    const headers = op.parameters
      .filter((p: { in: string }) => p.in === "header")
      .map((p: { name: string; required: boolean }) => [p.name, p.required]);
    expect(headers).toEqual(
      expect.arrayContaining([
        ["x-github-event", true],
        ["x-github-delivery", true],
      ]),
    );
    expect(Object.keys(op.responses)).toEqual(
      expect.arrayContaining(["200", "202", "401", "404", "413", "421", "503"]),
    );
  });
});

describe("methods and the viewer page", () => {
  test("TRACE, PUT and DELETE on a known path are 405 with Allow; an unknown path stays 404", async () => {
    for (const [method, path, allow] of [
      ["TRACE", "/changes", "GET, HEAD"],
      ["PUT", "/runs", "GET, HEAD"],
      ["DELETE", "/events", "GET, HEAD, POST"],
      ["TRACE", "/runs/abc/cancel", "POST"],
    ] as const) {
      const answer = await fetch(`${url}${path}`, { method, headers: asToken });
      expect({ method, path, status: answer.status, allow: answer.headers.get("allow") }).toEqual({
        method,
        path,
        status: 405,
        allow,
      });
    }
    expect((await fetch(`${url}/nowhere`, { method: "TRACE" })).status).toBe(404);
  });

  test("/openapi sends a Content-Security-Policy that allows only this server's scripts and forbids framing", async () => {
    const page = await fetch(`${url}/openapi`);
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toMatch(/script-src 'self' 'sha256-[A-Za-z0-9+/=]+';/);
    expect(page.headers.get("x-frame-options")).toBe("DENY");
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
  });
});

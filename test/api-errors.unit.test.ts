import { afterEach, expect, test } from "bun:test";
import { configureLog } from "../lib/log.ts";
import { createIngressApp } from "../services/ingress/app.ts";
import type { IngressDeps } from "../services/ingress/deps.ts";

afterEach(() => configureLog(process.env.CODEX_FLOW_LOG));

/** The ingress app over deps whose metrics source fails the way a bug does. */
function appWithBrokenMetrics() {
  const broken = async (): Promise<string> => {
    const gauges = undefined as unknown as { render(): string };
    return gauges.render();
  };
  const deps = { allowedOrigins: [], allowedHosts: [], listenHost: "127.0.0.1", metrics: broken } as Partial<IngressDeps>;
  return createIngressApp(deps as IngressDeps);
}

test("given a handler that throws a TypeError, when it is requested, then the log has its stack and an id, and the 500 answers only that id", async () => {
  configureLog("info");
  const lines: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string) => lines.push(String(chunk)) > 0) as typeof process.stderr.write;
  let response: Response;
  try {
    response = await appWithBrokenMetrics().handle(new Request("http://127.0.0.1/metrics?x=1", { headers: { authorization: "Bearer op-s3cret", cookie: "session=c00kie" } }));
  } finally {
    process.stderr.write = write;
  }
  expect(response.status).toBe(500);
  const body = (await response.json()) as { error: string; id: string };
  expect(body).toEqual({ error: "internal error", id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
  const logged = lines.filter((line) => line.includes(body.id));
  expect(logged).toHaveLength(1);
  const fields = JSON.parse(logged[0]!.slice(logged[0]!.indexOf("{")));
  expect(fields).toMatchObject({ id: body.id, method: "GET", path: "/metrics" });
  expect(fields.error).toContain("undefined");
  expect(fields.stack).toContain("TypeError");
  expect(fields.stack).toContain("api-errors.unit.test.ts");
  expect(logged[0]).not.toContain("op-s3cret");
  expect(logged[0]).not.toContain("c00kie");
});

test("an expected failure keeps its own answer: an unknown path is 404 naming it", async () => {
  const response = await appWithBrokenMetrics().handle(new Request("http://127.0.0.1/no-such-thing"));
  expect(response.status).toBe(404);
  expect(await response.json()).toEqual({ error: "no such endpoint: /no-such-thing" });
});

import { afterEach, expect, test } from "bun:test";
import { configureLog } from "../lib/log.ts";
import { createIngressApp } from "../services/ingress/app.ts";
import type { IngressDeps } from "../services/ingress/deps.ts";
import { outputStream } from "../services/ingress/runs/output.ts";

afterEach(() => configureLog(process.env.CODEX_FLOW_LOG));

/** The lines written to stderr while `work` runs. */
async function stderrOf<T>(work: () => Promise<T>): Promise<{ result: T; lines: string[] }> {
  configureLog("info");
  const lines: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string) => lines.push(String(chunk)) > 0) as typeof process.stderr.write;
  try {
    return { result: await work(), lines };
  } finally {
    process.stderr.write = write;
  }
}

/** The ingress app over deps whose metrics source fails the way a bug does. */
function appWithBrokenMetrics() {
  const broken = async (): Promise<string> => {
    const gauges = undefined as unknown as { render(): string };
    return gauges.render();
  };
  const deps = {
    allowedOrigins: [],
    allowedHosts: [],
    listenHost: "127.0.0.1",
    metrics: broken,
  } as Partial<IngressDeps>;
  return createIngressApp(deps as IngressDeps);
}

test("given a handler that throws a TypeError, when it is requested, then the log has its stack and an id, and the 500 answers only that id", async () => {
  const request = new Request("http://127.0.0.1/metrics?x=1", {
    headers: { authorization: "Bearer op-s3cret", cookie: "session=c00kie" },
  });
  const { result: response, lines } = await stderrOf(() => appWithBrokenMetrics().handle(request));
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

test("given a run's output stream whose read fails, when it is streamed, then the error event carries only the id the stack was logged under", async () => {
  // A read model that finds the run, then fails reading its output the way a bug does.
  const query = (table: string) => {
    const chain: Record<string, unknown> = {};
    for (const step of ["select", "where", "orderBy", "limit"]) chain[step] = () => chain;
    chain.executeTakeFirst = async () => ({ status: "running", output_cut: 0, attempt: 1 });
    chain.execute = async () => (table === "output" ? (undefined as unknown as { rows: [] }).rows : []);
    return chain;
  };
  const deps = { db: { selectFrom: query } } as unknown as IngressDeps;
  const { result: text, lines } = await stderrOf(
    async () =>
      await (await outputStream(deps, "run-1", false, new Request("http://127.0.0.1/runs/run-1/output"))).text(),
  );
  const [, data] = /event: error\ndata: (.*)\n/.exec(text) ?? [];
  const answer = JSON.parse(data!) as { error: string; id: string };
  expect(answer).toEqual({ error: "internal error", id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
  const logged = lines.filter((line) => line.includes(answer.id));
  expect(logged).toHaveLength(1);
  expect(JSON.parse(logged[0]!.slice(logged[0]!.indexOf("{")))).toMatchObject({
    method: "GET",
    path: "/runs/run-1/output",
    stack: expect.stringContaining("TypeError"),
  });
});

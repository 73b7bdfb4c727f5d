import { expect, setDefaultTimeout, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { useNatsServer } from "../support/nats.ts";
import { ingressUrlOf, serviceEnv, useProcesses } from "../support/processes.ts";
import { tempDir } from "../support/temp.ts";

/**
 * Schemathesis against /openapi.json of the running system (`flow serve all`, token and
 * HMAC secret set; test/fuzz/hooks.py signs what carries the signature header): no 5xx,
 * every answer's status code, content type, headers and body as documented, every
 * token-guarded endpoint 401 without the token, schema-valid requests accepted and
 * invalid ones refused, TRACE and the like 405. Bounded: 100 examples per operation,
 * killed after 170 s.
 */
setDefaultTimeout(200_000);
const nats = useNatsServer();
const cli = useProcesses();
const TOKEN = "fuzz-token";
const SECRET = "fuzz-secret";
const GITHUB_SECRET = "fuzz-github-secret";
/**
 * Every check schemathesis has: besides conformance of status, content type, headers and
 * body, schema-valid requests must be accepted (no undocumented 400), schema-violating
 * ones refused, a missing signature refused, unsupported methods 405 with Allow.
 */
const CHECKS = ["all"];

function schemathesis(): string | undefined {
  const candidates = [
    Bun.which("schemathesis"),
    "/usr/local/bin/schemathesis",
    join(process.env.HOME ?? "/root", ".local/bin/schemathesis"),
  ];
  return candidates.find((path): path is string => !!path && existsSync(path));
}

const binary = schemathesis();
if (!binary && !process.env.CI)
  console.warn(
    "fuzz.e2e: schemathesis is not installed, so the API fuzz test is skipped (bash scripts/install-schemathesis.sh installs it; in CI it always runs)",
  );

test.skipIf(!binary && !process.env.CI)(
  "schemathesis finds no 5xx and no answer that disagrees with the OpenAPI document",
  async () => {
    expect(binary).toBeDefined();
    const env = await serviceEnv(nats.url, {
      CODEX_FLOW_BACKEND_TOKEN: TOKEN,
      CODEX_FLOW_BACKEND_SECRET: SECRET,
      CODEX_FLOW_GITHUB_WEBHOOK_SECRET: GITHUB_SECRET,
      CODEX_FLOW_WAIT_TIMEOUT_MS: "2000",
      CODEX_FLOW_MATCH_WAIT_MS: "500",
    });
    const url = await ingressUrlOf(cli.start(["serve", "all"], { env }));
    const run = Bun.spawn(
      [
        binary!,
        "run",
        `${url}/openapi.json`,
        "-H",
        `Authorization: Bearer ${TOKEN}`,
        "--checks",
        CHECKS.join(","),
        "--max-examples",
        "100",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "--no-color",
        "--generation-database",
        "none",
        "--seed",
        String(Date.now() % 1_000_000),
      ],
      // Run in a temporary directory: schemathesis keeps a .schemathesis cache where it runs.
      {
        cwd: tempDir("codex-flows-fuzz-"),
        env: {
          ...process.env,
          PYTHONPATH: join(import.meta.dir, "..", "fuzz"),
          SCHEMATHESIS_HOOKS: "hooks",
          CODEX_FLOW_FUZZ_SECRET: SECRET,
          CODEX_FLOW_FUZZ_GITHUB_SECRET: GITHUB_SECRET,
        },
        stdout: "pipe",
        stderr: "pipe",
      },
    );
    const timer = setTimeout(() => run.kill("SIGKILL"), 170_000);
    const [out, err, code] = await Promise.all([
      new Response(run.stdout).text(),
      new Response(run.stderr).text(),
      run.exited,
    ]);
    clearTimeout(timer);
    const report = `${out}\n${err}`;
    expect({
      code,
      failures: code === 0 ? "" : report.slice(report.indexOf("FAILURES") >= 0 ? report.indexOf("FAILURES") : -4000),
    }).toEqual({ code: 0, failures: "" });
    expect(report).toMatch(/\d+ generated, \d+ passed/);
  },
);

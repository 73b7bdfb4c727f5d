// Issue 23, item 2: commands that need NATS find the one a running `flow dev` started
// (its URL, with the password generated for the run, in a 0600 file of its data directory).
import { expect, test } from "bun:test";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../lib/nats/nats-server.ts";
import { writeFlows } from "./support/flows.ts";
import { json } from "./support/http.ts";
import { useProcesses } from "./support/processes.ts";
import { tempDir } from "./support/temp.ts";

const cli = useProcesses();
const DONE = 'console.log("FLOW_RESULT " + JSON.stringify({ status: "completed" }));\n';

test("beside a running flow dev, flow projector rebuild and snapshot find its NATS without NATS_URL; the file is 0600 and goes when flow dev stops", async () => {
  const cwd = writeFlows({ notes: [{ name: "write", type: "note.posted", source: DONE }] });
  const dataDir = tempDir("codex-flows-dev-data-");
  const port = await freePort();
  const env = {
    CODEX_FLOW_BACKEND_DATA_DIR: dataDir,
    CODEX_FLOW_BACKEND_PORT: String(port),
    CODEX_FLOW_BACKEND_CWD: cwd,
  };
  const dev = cli.start(["dev"], { env });
  await dev.waitForLine("codex-flows is up", 60_000);
  const file = join(dataDir, "nats-url");
  expect(dev.output()).toContain(`(the NATS URL in ${file} for flow projector and flow stream)`);
  expect(statSync(file).mode & 0o777).toBe(0o600);
  const recorded = readFileSync(file, "utf8");
  expect(recorded).toMatch(/^nats:\/\/codex-flows:[\w-]+@127\.0\.0\.1:\d+\n$/);
  const answer = await json(
    fetch(`http://127.0.0.1:${port}/events?wait=true`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: "n-1", type: "note.posted" }),
    }),
  );
  expect(answer.runs[0].status).toBe("completed");

  const output = join(tempDir("codex-flows-rebuild-"), "rebuilt.sqlite");
  const rebuilt = await cli.run(["projector", "rebuild", "--output", output], { env, timeoutMs: 60_000 });
  expect({ code: rebuilt.code, stderr: rebuilt.stderr }).toMatchObject({ code: 0 });
  expect(rebuilt.stdout).toContain(`rebuilt ${output} from stream sequence 1`);
  const snapshot = await cli.run(["projector", "snapshot"], { env, timeoutMs: 60_000 });
  expect(snapshot.code).toBe(0);
  expect(snapshot.stdout).toMatch(/^snapshot of .* at sequence \d+/);

  dev.signal("SIGTERM");
  expect(await dev.exit(30_000)).toBe(0);
  expect(existsSync(file)).toBe(false);

  // A file a killed flow dev left behind: the hint names it and what to set, never the password.
  const stalePort = await freePort();
  writeFileSync(file, `nats://codex-flows:secret-pw@127.0.0.1:${stalePort}\n`, { mode: 0o600 });
  const stale = await cli.run(["stream", "trim", "--to-snapshot", "--dry-run"], { env, timeoutMs: 30_000 });
  expect(stale.code).toBe(1);
  expect(stale.stderr).toContain(
    `cannot connect to NATS at the URL in ${file}, which a flow dev on ${dataDir} wrote and did not remove (was it killed?)`,
  );
  expect(stale.stderr).toContain("Set NATS_URL to where NATS runs");
  expect(stale.stderr).not.toContain("secret-pw");
}, 120_000);

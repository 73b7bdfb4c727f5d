import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { json } from "../support/http.ts";
import { serviceEnv, useProcesses } from "../support/processes.ts";

setDefaultTimeout(45_000);
const cli = useProcesses();

/** Pids of processes whose command line mentions `text` (a temporary directory only this test uses). */
async function pidsMentioning(text: string): Promise<number[]> {
  const found = Bun.spawn(["pgrep", "-f", text], { stdout: "pipe" });
  const out = await new Response(found.stdout).text();
  await found.exited;
  return out.split("\n").filter(Boolean).map(Number);
}

describe("flow dev --example, the quickstart", () => {
  test("given no NATS_URL, when flow dev --example runs, then it starts its own nats-server, fires the example, prints a curl line that works, and SIGINT leaves nothing behind", async () => {
    const secret = "dev-secret";
    // With a read token too: the example's ?wait=true and the printed curl line answer run data, so they must send it.
    const token = "dev-token";
    // No stream or subject overrides: the embedded server belongs to this run alone.
    const env = await serviceEnv(undefined, {
      CODEX_FLOW_STREAM: undefined,
      CODEX_FLOW_SUBJECT_PREFIX: undefined,
      CODEX_FLOW_BACKEND_SECRET: secret,
      CODEX_FLOW_BACKEND_TOKEN: token,
    });
    const storeDir = join(env.CODEX_FLOW_BACKEND_DATA_DIR!, "nats");
    // Should anything below fail, the embedded server must not outlive the test.
    cli.cleanup(async () => {
      for (const pid of await pidsMentioning(storeDir)) process.kill(pid, "SIGKILL");
    });
    const dev = cli.start(["dev", "--example"], { env });

    await dev.waitForLine("Ctrl-C stops everything.", 30_000);
    const out = dev.stdout.join("\n");
    expect(out).toContain(`API      http://127.0.0.1:${env.CODEX_FLOW_BACKEND_PORT}`);
    expect(out).toMatch(
      new RegExp(
        `NATS     nats://codex-flows:[A-Za-z0-9_-]+@127\\.0\\.0\\.1:\\d+   stream FLOWS, subjects flows\\.> \\(embedded, store ${storeDir}, monitor http://127\\.0\\.0\\.1:\\d+\\)`,
      ),
    );
    expect(out).toContain("fired the example flow: POST /events?wait=true -> 202");
    expect(out).toContain('"status": "completed"');
    expect(out).toContain('"message": "hello, world"');

    // The disk guard watches the embedded server's store beside the read model.
    const health = await json(fetch(`http://127.0.0.1:${env.CODEX_FLOW_BACKEND_PORT}/healthz`));
    expect(health.disk.dirs.map((d: { role: string; dir: string }) => [d.role, d.dir])).toEqual([
      ["read model", env.CODEX_FLOW_BACKEND_DATA_DIR],
      ["NATS store", storeDir],
    ]);

    const pids = await pidsMentioning(storeDir);
    expect(pids).toHaveLength(1);

    // The two lines under "Fire an event:", run as a user would paste them.
    const lines = dev.stdout.map((line) => line.trim());
    const script = [lines.find((l) => l.startsWith("BODY=")), lines.find((l) => l.startsWith("curl "))];
    expect(script).not.toContain(undefined);
    const curl = Bun.spawn(["bash", "-c", script.join("\n")], {
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        CODEX_FLOW_BACKEND_SECRET: secret,
        CODEX_FLOW_BACKEND_TOKEN: token,
      },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [answer, curlErr, curlCode] = await Promise.all([
      new Response(curl.stdout).text(),
      new Response(curl.stderr).text(),
      curl.exited,
    ]);
    expect({ curlCode, curlErr }).toEqual({ curlCode: 0, curlErr: "" });
    const body = JSON.parse(answer);
    expect(body).toMatchObject({ status: "accepted", matched: 1 });
    expect(body.eventId).toMatch(/^hello-\d+$/);
    expect(body.runs[0]).toMatchObject({
      flowName: "example-flow",
      stepName: "greet",
      status: "completed",
      result: { status: "completed", message: "hello, you" },
    });

    dev.signal("SIGINT");
    expect(await dev.exit(15_000)).toBe(0);
    expect(dev.output()).toContain("dev info SIGINT: shutting down");
    expect(await pidsMentioning(storeDir)).toEqual([]);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
  });
});

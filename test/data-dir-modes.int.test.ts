// Item 19 of issue 18: `flow dev` keeps its data directory to its own user: the directory
// 0700 (a new one, and an existing one it owns), the read model's SQLite files 0600.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { json } from "./support/http.ts";
import { serviceEnv, useProcesses } from "./support/processes.ts";
import { tempDir } from "./support/temp.ts";

setDefaultTimeout(60_000);
const cli = useProcesses();
const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

describe("flow dev's data directory", () => {
  test.each([
    ["a new one", (dir: string) => dir],
    ["an existing one left 0755", (dir: string) => (mkdirSync(dir, { mode: 0o755 }), chmodSync(dir, 0o755), dir)],
  ])(
    "given %s, when flow dev runs and a run is recorded, then the directory is 0700 and every read-model file 0600",
    async (_, prepare) => {
      const dataDir = prepare(join(tempDir("codex-flows-modes-"), "data"));
      const env = await serviceEnv(undefined, {
        CODEX_FLOW_STREAM: undefined,
        CODEX_FLOW_SUBJECT_PREFIX: undefined,
        CODEX_FLOW_BACKEND_DATA_DIR: dataDir,
      });
      const dev = cli.start(["dev"], { env });
      await dev.waitForLine("Ctrl-C stops everything.", 45_000);
      const url = `http://127.0.0.1:${env.CODEX_FLOW_BACKEND_PORT}`;
      const answer = await json(
        fetch(`${url}/events?wait=true`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ id: "modes-1", type: "example.greet", payload: { name: "modes" } }),
        }),
      );
      expect(answer.runs.map((run: { status: string }) => run.status)).toEqual(["completed"]);

      const files = ["read-model.sqlite", "read-model.sqlite-wal", "read-model.sqlite-shm", "dev.lock"].map((name) =>
        join(dataDir, name),
      );
      expect(files.filter((path) => !existsSync(path))).toEqual([]);
      expect([dataDir, ...files].map(mode)).toEqual(["700", ...files.map(() => "600")]);
      dev.signal("SIGINT");
      expect(await dev.exit(20_000)).toBe(0);
    },
  );
});

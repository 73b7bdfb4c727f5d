// Issue 20 item 4, runners own stopping: a direct Bun step and a module-style step, each
// ignoring SIGTERM, against every stop (test/support/stops.ts). The systemd-run executor
// runs the same suite in test/systemd.int.test.ts, through its stand-ins.
import { afterAll, describe } from "bun:test";
import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stepRequest } from "./fixtures/request.ts";
import { stopSuite } from "./support/stops.ts";

const WORKDIR = realpathSync(mkdtempSync(join(tmpdir(), "runners-stop-")));
afterAll(() => rmSync(WORKDIR, { recursive: true, force: true }));

describe("runners own stopping", () => {
  stopSuite(
    "direct Bun step",
    (script, options) => stepRequest(script, { workingDirectory: WORKDIR, ...options }),
    "trap-term.ts",
  );
  stopSuite(
    "module step",
    (script, options) => stepRequest(script, { workingDirectory: WORKDIR, ...options }),
    "module-trap-term.ts",
  );
});

// Item 16 of issue 18: a step must not read the system's secrets out of /proc, from its
// parent (`/proc/$PPID/environ`, `/proc/$PPID/mem`) or from any other process of the
// same user (the embedded nats-server of `flow dev` among them). `flow dev` runs as an
// unprivileged user here (root reads every process's /proc files whatever we do).
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, chownSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../lib/nats/nats-server.ts";
import { signBody } from "../lib/signature.ts";
import { writeFlows } from "./support/flows.ts";
import { json } from "./support/http.ts";
import { REPO, serviceEnv, useProcesses } from "./support/processes.ts";
import { tempDir } from "./support/temp.ts";

setDefaultTimeout(60_000);
const cli = useProcesses();
const SECRETS = {
  CODEX_FLOW_BACKEND_SECRET: "proc-hmac-7c1e55",
  CODEX_FLOW_BACKEND_TOKEN: "proc-token-90ab3f",
  NOTIFY_WEBHOOK_SECRET: "proc-notify-3d2c1b",
};
// As root, the services run as nobody (setpriv execs bun, so the pid stays bun's); as anyone else, as that user.
const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;

// Reads every /proc/<pid>/environ and the parent's memory map it can, and says where a secret showed.
const snoop = `import { readdirSync, readFileSync } from "node:fs";
const secrets = ${JSON.stringify(Object.values(SECRETS))};
const found = [];
let readable = 0;
for (const pid of readdirSync("/proc").filter((name) => /^\\d+$/.test(name))) {
  let environ;
  try { environ = readFileSync("/proc/" + pid + "/environ", "latin1"); } catch { continue; }
  readable++;
  if (secrets.some((secret) => environ.includes(secret))) found.push(pid + ": " + readFileSync("/proc/" + pid + "/cmdline", "latin1").replaceAll("\\0", " ").slice(0, 80));
}
const ownIsReadable = readFileSync("/proc/self/environ", "latin1").includes("CODEX_FLOW_RUN_ID=");
let parentMemory = "readable";
try { readFileSync("/proc/" + process.ppid + "/maps", "latin1"); } catch (error) { parentMemory = error.code; }
const seen = { found, readable, ownIsReadable, parentMemory };
console.log("FLOW_RESULT " + JSON.stringify({ status: "completed", message: JSON.stringify(seen), ...seen }));
`;

const AS_NOBODY = ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", "--"];
let readableRoot: string | undefined;
/**
 * The repository as the unprivileged user can read it: itself, or, where a directory
 * above it shuts that user out (a clone inside a 0700 temporary directory), a mirror of
 * hard links (a copy across file systems) in a directory everyone may enter.
 */
function repoForNobody(): string {
  if (!asRoot) return REPO;
  if (readableRoot !== undefined) return readableRoot;
  if (Bun.spawnSync([...AS_NOBODY, "test", "-r", join(REPO, "bin", "flow.ts")]).exitCode === 0)
    return (readableRoot = REPO);
  const mirror = tempDir("codex-flows-repo-");
  chmodSync(mirror, 0o755);
  const linked = Bun.spawnSync(["cp", "-al", `${REPO}/.`, mirror]).exitCode === 0;
  if (!linked && Bun.spawnSync(["cp", "-a", `${REPO}/.`, mirror]).exitCode !== 0)
    throw new Error(`cannot mirror ${REPO} for the unprivileged user in ${mirror}`);
  return (readableRoot = mirror);
}

/** A flows directory, a home and a data directory the unprivileged user can use, and how to run the CLI as that user. */
function unprivileged() {
  const base = tempDir("codex-flows-proc-");
  chmodSync(base, 0o755);
  const home = join(base, "home");
  const dataDir = join(base, "data");
  for (const dir of [home, dataDir]) {
    mkdirSync(dir);
    if (asRoot) chownSync(dir, NOBODY, NOBODY);
  }
  const cwd = writeFlows({ snoop: [{ name: "look", type: "proc.look", source: snoop }] });
  chmodSync(cwd, 0o755);
  const root = repoForNobody();
  const launch = { wrap: asRoot ? AS_NOBODY : [], cwd: root, entry: join(root, "bin", "flow.ts") };
  return { home, dataDir, cwd, launch };
}

describe("a step reading /proc", () => {
  test("given flow dev with the secret, the token and a flow's secret set, a step finds none of them in any process's environment, and cannot read its parent's memory", async () => {
    const { home, dataDir, cwd, launch } = unprivileged();
    const env = await serviceEnv(undefined, {
      CODEX_FLOW_STREAM: undefined,
      CODEX_FLOW_SUBJECT_PREFIX: undefined,
      CODEX_FLOW_BACKEND_DATA_DIR: dataDir,
      CODEX_FLOW_BACKEND_CWD: cwd,
      HOME: home,
      ...SECRETS,
    });
    const dev = cli.start(["dev"], { env, ...launch });
    await dev.waitForLine("Ctrl-C stops everything.", 45_000);

    const body = JSON.stringify({ id: "proc-1", type: "proc.look" });
    const headers = {
      "content-type": "application/json",
      "x-flow-signature-256": signBody(SECRETS.CODEX_FLOW_BACKEND_SECRET, body),
      authorization: `Bearer ${SECRETS.CODEX_FLOW_BACKEND_TOKEN}`,
    };
    const answer = await json(
      fetch(`http://127.0.0.1:${env.CODEX_FLOW_BACKEND_PORT}/events?wait=true`, { method: "POST", headers, body }),
    );
    expect(answer.runs.map((run: { status: string }) => run.status)).toEqual(["completed"]);
    const { found, readable, ownIsReadable, parentMemory } = answer.runs[0].result;
    // The scan works (it reads its own environment, and the processes of its user that allow it) and finds no secret.
    expect({ ownIsReadable, found }).toEqual({ ownIsReadable: true, found: [] });
    expect(readable).toBeGreaterThan(0);
    expect(parentMemory).toBe("EACCES");
    expect(dev.output()).not.toContain("which started this one");
    dev.signal("SIGINT");
    expect(await dev.exit(20_000)).toBe(0);
  });

  test("given flow run with the secrets in its environment, the step it runs finds none of them either", async () => {
    const { home, cwd, launch } = unprivileged();
    const event = join(home, "event.json");
    writeFileSync(event, JSON.stringify({ id: "proc-2", type: "proc.look" }));
    const { code, stdout } = await cli.run(["run", "snoop", "look", "--event", event, "--cwd", cwd], {
      env: { HOME: home, ...SECRETS },
      ...launch,
    });
    expect(code).toBe(0);
    const seen = JSON.parse(/result=completed "(.*)" in \d+ ms/.exec(stdout)![1]!);
    expect(seen).toMatchObject({ found: [], ownIsReadable: true, parentMemory: "EACCES" });
  });

  test("given a parent that holds the secrets (a shell, or `bun run flow`'s wrapper), the service warns naming it and them", async () => {
    const env = {
      CODEX_FLOW_BACKEND_SECRET: SECRETS.CODEX_FLOW_BACKEND_SECRET,
      NATS_URL: `nats://127.0.0.1:${await freePort()}`,
    };
    // The shell stays the service's parent (it has more to do after it), with the environment it was given.
    const { code, stderr } = await cli.run(["serve", "ingress"], { env, wrap: ["sh", "-c", '"$@"; exit $?', "sh"] });
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /warn process \d+ \(sh -c "\$@"; exit \$\? sh \S+ run \S+ serve ingress\), which started this one, holds CODEX_FLOW_BACKEND_SECRET in its environment, where steps \(they run as this user\) can read them/,
    );
  });
});

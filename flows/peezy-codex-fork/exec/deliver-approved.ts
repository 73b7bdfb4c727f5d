// peezy-codex-fork / deliver-approved: pushes the rebased branch (and publishes its tag)
// once a person approved the run that made it (approve_push / approve_publish,
// docs/release-flows.md). Only for that run's held `next` event (an id only the
// executor gives; POST /events refuses that form), only when the fork checkout's HEAD is
// still the approved commit and the branch is the configured one. Commands run as
// argument lists, never through a shell.
import { resolve } from "node:path";

type Input = {
  flow: {
    root: string;
    config: Record<string, unknown>;
    event: { id: string; payload: Record<string, unknown> };
  };
};

const { flow } = JSON.parse(await Bun.stdin.text()) as Input;
const { config, event } = flow;
const p = event.payload;
const commands: { label: string; argv: string[]; exitCode: number; output: string }[] = [];
const REF = /^[A-Za-z0-9][A-Za-z0-9._/+-]*$/;

function finish(status: string, message: string, extra: Record<string, unknown> = {}): never {
  const artifacts = { commit: p.commit, target: p.target, ...extra, commands };
  console.log(`FLOW_RESULT ${JSON.stringify({ status, message, artifacts })}`);
  process.exit(0);
}

function git(label: string, repo: string, args: string[], input?: string): string {
  const argv = ["git", ...args];
  const done = Bun.spawnSync(argv, {
    cwd: repo,
    stdin: input === undefined ? "ignore" : new TextEncoder().encode(input),
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, GIT_TERMINAL_PROMPT: "0" },
  });
  const output = `${done.stdout.toString()}${done.stderr.toString()}`.slice(-4000);
  commands.push({ label, argv, exitCode: done.exitCode, output });
  if (done.exitCode !== 0)
    finish("failed", `${label} failed: \`${argv.join(" ")}\` exited with ${done.exitCode}; nothing more was pushed`);
  return done.stdout.toString().trim();
}

/** A setting with the `*_env` convention: the variable named by `<name>_env` wins when set. */
function setting(name: string, fallback: string): string {
  const variable = config[`${name}_env`];
  const fromEnv = typeof variable === "string" ? process.env[variable]?.trim() : undefined;
  if (fromEnv) return fromEnv;
  return typeof config[name] === "string" && config[name] !== "" ? (config[name] as string) : fallback;
}

if (!/^run-[0-9a-f]{24}\/next\/\d+$/.test(event.id))
  finish(
    "failed",
    `event ${JSON.stringify(event.id)} is not the held result of this flow's rebase (an id <runId>/next/<n>); nothing was pushed`,
  );
if (typeof p.commit !== "string" || !/^[0-9a-f]{40}$/.test(p.commit))
  finish("failed", `payload.commit must be a full commit id, got ${JSON.stringify(p.commit)}; nothing was pushed`);
const written = setting("codex_repo", "");
if (!written) finish("blocked", "no fork checkout configured (codex_repo or the variable codex_repo_env names)");
const repo = git("locate the checkout", resolve(flow.root, written), ["rev-parse", "--show-toplevel"]);
const target = setting("target_branch", "main");
if (!REF.test(target) || p.target !== target)
  finish(
    "failed",
    `the approved branch ${JSON.stringify(p.target)} is not the configured ${target}; nothing was pushed`,
  );
if (typeof p.repo === "string" && p.repo !== repo)
  finish(
    "failed",
    `the approved commit was made in ${p.repo}, but the configured checkout is ${repo}; nothing was pushed`,
  );
const head = git("read HEAD", repo, ["rev-parse", "HEAD"]);
if (head !== p.commit)
  finish(
    "failed",
    `${repo}'s HEAD is ${head.slice(0, 12)}, not the approved commit ${p.commit.slice(0, 12)}; nothing was pushed`,
  );
const did: string[] = [];
if (p.push === true) {
  git("push", repo, ["push", "origin", `HEAD:${target}`, "--force-with-lease"]);
  did.push(`pushed to origin/${target}`);
}
if (p.publish === true) {
  const version = String(p.version ?? "");
  if (!/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(version))
    finish("failed", `payload.version ${JSON.stringify(p.version)} is not a version; nothing was published`);
  const name = `rust-v${version}`;
  const ident = git("tagger", repo, ["var", "GIT_COMMITTER_IDENT"]);
  const body = `object ${head}\ntype commit\ntag ${name}\ntagger ${ident}\n\npeezy codex ${version} (upstream ${String(p.tag)})\n`;
  const object = git("publish: make the annotated tag", repo, ["mktag"], body);
  git("publish: push the tag", repo, ["push", "origin", `${object}:refs/tags/${name}`]);
  did.push(`published ${name}`);
}
finish("changed", `approved: ${did.join(", ") || "nothing to deliver"} (commit ${head.slice(0, 12)})`, {
  repo,
  pushed: p.push === true,
  published: p.publish === true,
});

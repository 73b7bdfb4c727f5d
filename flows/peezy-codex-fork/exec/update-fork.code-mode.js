// peezy-codex-fork: rebases the Peezy patch stack of a Codex fork checkout onto an
// upstream release tag (`upstream.release`) or an upstream commit
// (`upstream.branch_update`), squashes it, verifies it and pushes / publishes only when
// enabled. A Code Mode script: it sees `flow` (from the runner's prelude), runs every
// shell command through `tools.exec_command`, reports progress with `text(...)` and ends
// with one `result(...)`. Every value put into a shell line goes through `q()`.

const config = flow.config || {};
const OUTPUT_CHARS = 4000; // kept per command in artifacts.commands
// How long one exec_command call waits (Code Mode allows 250 ms to 30 s) before the command is handed back as a session and polled.
const YIELD_MS = Number.isInteger(config.exec_yield_time_ms) && config.exec_yield_time_ms > 0 ? config.exec_yield_time_ms : 30000;
const POLL_SECONDS = Math.max(1, Math.floor(YIELD_MS / 1000) - 5);
const MAX_COMMAND_MS = 3600000; // the step's own timeout_ms ends it before this
const MAX_TOKENS = 4000;
const ENABLED = ["1", "true", "yes", "on"];
const DISABLED = ["0", "false", "no", "off"];
const REF = /^[A-Za-z0-9][A-Za-z0-9._\/+-]*$/;

const payload = (flow.event && flow.event.payload) || {};
const onBranch = flow.event.type === "upstream.branch_update";
const commands = [];
const facts = {};
let scratch = "";
let calls = 0;

/** Single-quotes a value for sh. */
function q(value) {
  return "'" + String(value).replace(/'/g, "'\\''") + "'";
}

function clip(textValue, limit = OUTPUT_CHARS) {
  const s = String(textValue || "");
  if (s.length <= limit) return s;
  const half = Math.floor(limit / 2);
  return s.slice(0, half) + `\n... ${s.length - limit} characters cut ...\n` + s.slice(-half);
}

/**
 * One shell line through Code Mode. A command that outlives the yield comes back with a
 * session_id and no exit_code, so every line keeps its output and status in files and a
 * still-running one is polled with further exec_command calls until it has a status.
 */
async function shell(cmd, workdir, maxTokens = MAX_TOKENS) {
  const n = ++calls;
  const out = `${scratch}/${n}.out`;
  const code = `${scratch}/${n}.code`;
  const wrapped = scratch === "" ? cmd : `( ${cmd}\n) > ${q(out)} 2>&1; echo $? > ${q(code)}; cat ${q(out)}; exit "$(cat ${q(code)})"`;
  let reply = await tools.exec_command({ cmd: wrapped, workdir, yield_time_ms: YIELD_MS, max_output_tokens: maxTokens });
  const deadline = Date.now() + MAX_COMMAND_MS;
  while (typeof reply.exit_code !== "number" && scratch !== "" && Date.now() < deadline) {
    const poll = `i=0; while [ ! -s ${q(code)} ] && [ $i -lt ${POLL_SECONDS} ]; do sleep 1; i=$((i+1)); done; if [ -s ${q(code)} ]; then cat ${q(out)}; exit "$(cat ${q(code)})"; fi; exit 75`;
    reply = await tools.exec_command({ cmd: poll, workdir, yield_time_ms: YIELD_MS, max_output_tokens: maxTokens });
    if (reply.exit_code === 75 && !(await exists(code))) reply = { output: "" };
  }
  const exitCode = typeof reply.exit_code === "number" ? reply.exit_code : null;
  return { exitCode, output: typeof reply.output === "string" ? reply.output : String(reply.output ?? "") };
}

async function exists(path) {
  const r = await tools.exec_command({ cmd: `test -s ${q(path)}`, yield_time_ms: YIELD_MS, max_output_tokens: 100 });
  return r.exit_code === 0;
}

/** Runs and records one command (label, command, workdir, exit code, output cut to a few KB). */
async function run(label, cmd, workdir, options = {}) {
  const startedAt = Date.now();
  const r = await shell(cmd, workdir, options.maxTokens);
  const entry = { label, command: options.shown || cmd, workdir, exitCode: r.exitCode, output: clip(r.output), durationMs: Date.now() - startedAt };
  if (options.env) entry.env = options.env;
  commands.push(entry);
  return { ok: r.exitCode === 0, code: r.exitCode, output: r.output, entry };
}

/** Thrown to end the step with a verdict. */
class Stop extends Error {
  constructor(status, message, extra = {}) {
    super(message);
    this.verdict = { status, message, extra };
  }
}

const stop = (status, message, extra) => {
  throw new Stop(status, message, extra);
};

/** Runs a command that must succeed; the first failure ends the step `failed`, naming it. */
async function must(label, cmd, workdir, options) {
  const r = await run(label, cmd, workdir, options);
  if (!r.ok) stop("failed", `${label} failed: \`${options?.shown || cmd}\` exited with ${r.code ?? "no exit code"}`);
  return r.output.trim();
}

function flag(name, variable, env, fallback) {
  const raw = (env[variable] || "").trim().toLowerCase();
  if (ENABLED.includes(raw)) return true;
  if (DISABLED.includes(raw)) return false;
  const value = config[name];
  return typeof value === "boolean" ? value : fallback;
}

/** Reads the few environment variables the flow names (names checked; values kept out of artifacts.commands). */
async function readEnv(names) {
  const valid = names.filter((n) => typeof n === "string" && /^[A-Za-z_][A-Za-z0-9_]*$/.test(n));
  const r = await tools.exec_command({ cmd: valid.map((n) => `printf '%s\\n' "\${${n}-}"`).join("; "), yield_time_ms: YIELD_MS, max_output_tokens: 2000 });
  const values = String(r.output || "").split("\n");
  const env = {};
  valid.forEach((n, i) => (env[n] = values[i] || ""));
  return env;
}

/** What a person needs to see of a paused rebase. */
async function rebaseContext(repo) {
  const g = (args, max) => run(`rebase context: git ${args}`, `git ${args}`, repo, { maxTokens: max });
  const status = await g("status --short");
  const unmerged = (await g("diff --name-only --diff-filter=U")).output.split("\n").map((s) => s.trim()).filter(Boolean);
  const stat = await g("diff --cc --stat");
  const diff = await g("diff", 3000);
  const patch = await g("rebase --show-current-patch", 3000);
  const subject = await run("rebase context: current patch", "git log -1 --format='%H %s' REBASE_HEAD", repo);
  const [commit, ...words] = subject.ok ? subject.output.trim().split(" ") : [];
  return {
    status: clip(status.output),
    unmergedFiles: unmerged,
    diffStat: clip(stat.output),
    conflictDiff: clip(diff.output),
    currentPatch: { commit: commit || null, subject: words.join(" ") || null, patch: clip(patch.output) },
  };
}

function resumeSteps(repo, files) {
  const runId = facts.runId;
  const retry = runId ? `bun run flow retry ${runId}   (or POST /runs/${encodeURIComponent(runId)}/retry)` : "bun run flow retry <run id>   (or POST /runs/<run id>/retry)";
  return [
    `cd ${q(repo)}`,
    `resolve the conflicts in: ${files.length ? files.join(", ") : "(see git status)"}`,
    `git add ${files.length ? files.map(q).join(" ") : "<resolved files>"}`,
    "GIT_EDITOR=true git rebase --continue   (repeat for every patch that stops; never git rebase --abort)",
    retry,
  ];
}

async function main() {
  // 1. The target and the configuration.
  const remote = String(config.upstream_remote || "upstream");
  if (!REF.test(remote)) stop("failed", `upstream_remote ${JSON.stringify(remote)} is not a valid remote name`);
  let tag = null;
  let version = null;
  let baseRef;
  if (onBranch) {
    const branch = String(payload.branch || "");
    const sha = String(payload.sha || "").toLowerCase();
    if (!REF.test(branch) || !/^[0-9a-f]{7,40}$/.test(sha)) stop("failed", `upstream.branch_update needs a branch name and a commit sha, got ${JSON.stringify({ branch, sha })}`);
    Object.assign(facts, { branch, sha, tag: null, version: null });
    baseRef = sha;
  } else {
    tag = String(payload.tag || "");
    if (!REF.test(tag) || tag.includes("..")) stop("failed", `${JSON.stringify(tag)} is not a usable tag name`);
    const match = /(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)/.exec(tag);
    if (!match) stop("failed", `tag ${tag} has no MAJOR.MINOR.PATCH version in it`);
    version = match[1];
    Object.assign(facts, { tag, version });
    baseRef = `refs/tags/${tag}`;
  }
  const names = [config.codex_repo_env, config.target_branch_env, config.cargo_target_dir_env, "CODEX_FLOW_FORCE", "CODEX_FLOW_PUSH", "CODEX_FLOW_PUBLISH", "CODEX_FLOW_SQUASH_PATCH_STACK", "CODEX_FLOW_RUN_ID", "CODEX_FLOW_APPROVE_PUSH", "CODEX_FLOW_APPROVE_PUBLISH"];
  const env = await readEnv(names);
  facts.runId = env.CODEX_FLOW_RUN_ID || null;
  const force = flag("force", "CODEX_FLOW_FORCE", env, false);
  const push = flag("push", "CODEX_FLOW_PUSH", env, false);
  const publish = !onBranch && flag("publish", "CODEX_FLOW_PUBLISH", env, false);
  const squash = flag("squash_patch_stack", "CODEX_FLOW_SQUASH_PATCH_STACK", env, true);
  // approve_push / approve_publish: held until a person approves the run (a held push holds the publish after it).
  const held = { push: push && flag("approve_push", "CODEX_FLOW_APPROVE_PUSH", env, false) };
  held.publish = publish && (held.push || flag("approve_publish", "CODEX_FLOW_APPROVE_PUBLISH", env, false));
  const written = (config.codex_repo_env && env[config.codex_repo_env]) || config.codex_repo || "";
  if (written === "") stop("blocked", `no fork checkout configured: set codex_repo in the flow's [config]${config.codex_repo_env ? ` or the ${config.codex_repo_env} environment variable` : ""}`);
  const target = (config.target_branch_env && env[config.target_branch_env]) || config.target_branch || "main";
  if (!REF.test(target)) stop("failed", `target branch ${JSON.stringify(target)} is not a valid branch name`);
  scratch = (await shell(`mktemp -d "\${TMPDIR:-/tmp}/peezy-codex-fork.XXXXXX"`)).output.trim();
  text(`peezy-codex-fork: ${onBranch ? `${facts.branch}@${facts.sha}` : tag} -> ${written} (${target}); push=${push} publish=${publish} squash=${squash}\n`);

  // 2. Already published?
  const pkg = String(config.package_name || "");
  if (!onBranch && pkg !== "" && !force) {
    const npm = await run("npm: is this version published", `npm view ${q(`${pkg}@${version}`)} version --json`, undefined);
    const seen = npm.ok ? npm.output.trim() : "";
    if (seen !== "" && seen.includes(JSON.stringify(version))) stop("skipped", `${pkg}@${version} is already published (set force or CODEX_FLOW_FORCE=1 to rebuild anyway)`);
    if (!npm.ok && /E404|404 Not Found/.test(npm.output)) npm.entry.expected = "E404: this version is not published yet";
    else if (!npm.ok) text(`could not ask npm whether ${pkg}@${version} is published; going on\n`);
  }

  // 3. A git checkout with codex-rs.
  const located = await run("locate the checkout", `cd -- ${q(written)} && git rev-parse --show-toplevel`, undefined);
  if (!located.ok) stop("failed", `the fork checkout ${written} is not a git repository (or does not exist)`);
  const repo = located.output.trim().split("\n").pop();
  facts.repo = repo;
  if (!(await run("codex-rs workspace", "test -f codex-rs/Cargo.toml", repo)).ok) stop("failed", `${repo} has no codex-rs/Cargo.toml: not a Codex checkout`);
  const codexRs = `${repo}/codex-rs`;
  const cargoTarget = (config.cargo_target_dir_env && env[config.cargo_target_dir_env]) || config.cargo_target_dir || `${codexRs}/target`;

  // 4. A rebase already in progress.
  const paused = await run("rebase in progress?", `test -d "$(git rev-parse --git-path rebase-merge)" || test -d "$(git rev-parse --git-path rebase-apply)"`, repo);
  if (paused.ok) {
    const context = await rebaseContext(repo);
    stop("blocked", `a rebase is already in progress in ${repo}: finish it (resolve, git add, git rebase --continue) and retry this run, or abort it yourself`, { rebase: context, resume: resumeSteps(repo, context.unmergedFiles) });
  }

  // 5. On a clean target branch.
  const dirty = async () => (await must("working tree status", "git status --porcelain", repo)) !== "";
  const current = (await run("current branch", "git symbolic-ref --short -q HEAD", repo)).output.trim();
  if (current !== target) {
    if (await dirty()) stop("blocked", `${repo} is on ${current || "a detached HEAD"} with uncommitted changes; commit or stash them so the flow can switch to ${target}`);
    await must("switch to the target branch", `git checkout ${q(target)}`, repo);
  }
  if (await dirty()) stop("blocked", `${repo} has uncommitted changes on ${target}; commit or stash them first`);

  // 6. The upstream remote, fetched.
  const url = String(config.upstream_repo_url || "");
  const known = await run("upstream remote", `git remote get-url ${q(remote)}`, repo);
  if (!known.ok) {
    if (url === "") stop("blocked", `${repo} has no remote ${remote} and upstream_repo_url is empty`);
    await must("add the upstream remote", `git remote add ${q(remote)} ${q(url)}`, repo);
  } else if (url !== "" && known.output.trim() !== url) {
    await must("set the upstream remote's url", `git remote set-url ${q(remote)} ${q(url)}`, repo);
  }
  await must("fetch upstream", `git fetch ${q(remote)} --tags --prune`, repo);
  const base = await run("resolve the base", `git rev-parse --verify --quiet ${q(`${baseRef}^{commit}`)}`, repo);
  if (!base.ok) stop("failed", onBranch ? `commit ${facts.sha} is not in ${remote} after fetching it` : `tag ${tag} is not in ${remote} after fetching its tags`);
  const baseCommit = base.output.trim();
  facts.base = baseCommit;

  // 7. The rebase.
  const headBefore = await must("head before", "git rev-parse HEAD", repo);
  facts.headBefore = headBefore;
  text(`rebasing ${target} (${headBefore.slice(0, 12)}) onto ${onBranch ? facts.sha : tag}\n`);
  const rebase = await run("rebase onto the base", `git rebase ${q(baseCommit)}`, repo);
  if (!rebase.ok) {
    const stuck = await run("rebase paused?", `test -d "$(git rev-parse --git-path rebase-merge)" || test -d "$(git rev-parse --git-path rebase-apply)"`, repo);
    if (!stuck.ok) stop("failed", `rebase onto the base failed: \`git rebase ${baseCommit}\` exited with ${rebase.code}`);
    const context = await rebaseContext(repo);
    const files = context.unmergedFiles;
    const prompt =
      `The rebase of ${target} onto ${onBranch ? facts.sha : tag} stopped at "${context.currentPatch.subject || "a patch"}" in ${repo}. ` +
      `Resolve the conflicts in ${files.join(", ") || "the files git status lists"} without aborting the rebase, git add them and run git rebase --continue until it finishes, ` +
      `then retry this run: it runs the squash and the verification (${(Array.isArray(config.verify) ? config.verify : []).join("; ")}).`;
    stop("needs_intervention", `rebase onto ${onBranch ? facts.sha : tag} stopped on a conflict in ${files.join(", ") || "the working tree"}: resolve it and retry`, {
      rebase: { ...context, headBefore, onto: baseCommit },
      prompt,
      resume: resumeSteps(repo, files),
    });
  }

  // 8. One commit for the patch stack.
  const count = Number(await must("patches on top", `git rev-list --count ${q(`${baseCommit}..HEAD`)}`, repo));
  facts.patches = count;
  facts.squashed = false;
  if (squash && count > 1) {
    await must("squash: reset to the base", `git reset --soft ${q(baseCommit)}`, repo);
    const subject = `peezy: codex fork patches for ${onBranch ? `${facts.branch}@${facts.sha.slice(0, 12)}` : tag}`;
    await must("squash: commit", `git commit --no-verify -q -m ${q(subject)}`, repo);
    facts.squashed = true;
  }
  const headAfter = await must("head after", "git rev-parse HEAD", repo);
  facts.headAfter = headAfter;

  // 9. Verification in codex-rs.
  const verify = Array.isArray(config.verify) ? config.verify.filter((c) => typeof c === "string" && c.trim() !== "") : [];
  const exported = `export CARGO_TARGET_DIR=${q(cargoTarget)} FORK_BASE=${q(baseCommit)}; `;
  for (const line of verify) {
    text(`verify: ${line}\n`);
    const r = await run(`verify: ${line}`, exported + line, codexRs, { shown: line, env: { CARGO_TARGET_DIR: cargoTarget, FORK_BASE: baseCommit } });
    if (!r.ok) stop("failed", `verification failed: \`${line}\` exited with ${r.code ?? "no exit code"}; ${target} is rebased locally (${headAfter.slice(0, 12)}) but nothing was pushed`);
    if (/--version/.test(line)) facts.binaryVersion = r.output.trim().split("\n").pop();
  }

  // 10. Push and publish, only when enabled (and not held for approval: the deliver-approved step does those).
  facts.pushed = false;
  facts.published = false;
  if (push && !held.push) {
    await must("push", `git push origin ${q(`HEAD:${target}`)} --force-with-lease`, repo);
    facts.pushed = true;
  }
  if (publish && !held.publish) {
    const name = `rust-v${version}`;
    const ident = await must("tagger", "git var GIT_COMMITTER_IDENT", repo);
    const body = `object ${headAfter}\ntype commit\ntag ${name}\ntagger ${ident}\n\npeezy codex ${version} (upstream ${tag})\n`;
    const object = await must("publish: make the annotated tag", `printf '%s' ${q(body)} | git mktag`, repo);
    await must("publish: push the tag", `git push origin ${q(`${object}:refs/tags/${name}`)}`, repo);
    facts.published = true;
    facts.releaseTag = name;
  }

  // 11. Done.
  const onto = onBranch ? `${facts.branch}@${facts.sha.slice(0, 12)}` : tag;
  const moved = headBefore === headAfter ? "unchanged head" : `${headBefore.slice(0, 12)} -> ${headAfter.slice(0, 12)}`;
  const message = `rebased ${count} patch${count === 1 ? "" : "es"} of ${target} onto ${onto} (${moved})${facts.pushed ? ", pushed" : ""}${facts.published ? `, published ${facts.releaseTag}` : ""}`;
  if (!held.push && !held.publish) return { status: "changed", message };
  const waits = [held.push && `push to origin/${target}`, held.publish && `publish rust-v${version}`].filter(Boolean).join(" and ");
  facts.awaitingApproval = held;
  const delivery = { repo, commit: headAfter, target, tag, version, ...held };
  return { status: "changed", message: `${message}; ${waits} await approval`, approval: { reason: `${waits} (commit ${headAfter.slice(0, 12)})?` }, next: [{ type: "peezy-codex-fork.deliver", payload: delivery }] };
}

let verdict;
try {
  const done = await main();
  verdict = { ...done, extra: {} };
} catch (error) {
  verdict = error instanceof Stop ? error.verdict : { status: "failed", message: `the flow script failed: ${error && error.message ? error.message : String(error)}`, extra: {} };
}
if (scratch !== "") await tools.exec_command({ cmd: `rm -rf ${q(scratch)}`, yield_time_ms: YIELD_MS, max_output_tokens: 100 });
text(`${verdict.status}: ${verdict.message}\n`);
const gate = verdict.approval ? { approval: verdict.approval, next: verdict.next } : {};
result({ status: verdict.status, message: verdict.message, artifacts: { event: flow.event.type, ...facts, ...verdict.extra, commands }, ...gate });

// The bindings flow's `[config]`, read and checked once, before any command runs.
import { flag, Outcome, text } from "./release.ts";

type Config = Record<string, unknown>;
type Env = Record<string, string | undefined>;

export type Settings = {
  packageName: string;
  generatedDir: string;
  packageJson: string;
  /** undefined: the default (`bun run test` when the repository's package.json has a test script). */
  checks: string[][] | undefined;
  commit: boolean;
  force: boolean;
  push: boolean;
  publish: boolean;
  /** Hold the push (and a publish after it) until a person approves (docs/approvals.md). */
  approvePush: boolean;
  /** Hold the publish until a person approves. */
  approvePublish: boolean;
  pushRemote: string;
  publishRemote: string;
  branch: string;
  githubRepo: string;
  githubPublishWorkflow: string;
};

export const MAX_CHECKS = 20;
// Remote, branch and repository names reach git and gh as single arguments; this keeps them from reading as options.
const NAME = /^[A-Za-z0-9][A-Za-z0-9._/-]*$/;

/** Every setting with the original's defaults; a wrong type or an unusable name is `failed` naming the key. */
export function readSettings(config: Config, env: Env): Settings {
  return {
    packageName: name(config, "package_name", "@peezy.tech/codex-flows", /^(@[a-z0-9._~-]+\/)?[a-z0-9._~-]+$/),
    generatedDir: text(config, "generated_dir", "packages/codex-client/src/app-server/generated"),
    packageJson: text(config, "package_json", "packages/codex-client/package.json"),
    checks: readChecks(config.checks),
    commit: flag(config, {}, "commit", true),
    force: flag(config, env, "force", false),
    push: flag(config, env, "push", false),
    publish: flag(config, env, "publish", false),
    approvePush: flag(config, env, "approve_push", false),
    approvePublish: flag(config, env, "approve_publish", false),
    pushRemote: name(config, "push_remote", "origin"),
    publishRemote: name(config, "publish_remote", "github"),
    branch: name(config, "branch", "main"),
    githubRepo: name(config, "github_repo", "peezy-tech/codex-flows", /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/),
    githubPublishWorkflow: name(config, "github_publish_workflow", "publish-codex-flows.yml"),
  };
}

function name(config: Config, key: string, fallback: string, pattern = NAME): string {
  const value = text(config, key, fallback);
  if (!pattern.test(value))
    throw new Outcome("failed", `config ${key} = ${JSON.stringify(value)} is not a usable name`);
  return value;
}

/** `checks`: a list of commands, each a list of arguments or a string split on whitespace (no shell). */
function readChecks(value: unknown): string[][] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value))
    throw new Outcome("failed", `config checks must be a list of commands, got ${JSON.stringify(value)}`);
  if (value.length > MAX_CHECKS)
    throw new Outcome("failed", `config checks lists ${value.length} commands; at most ${MAX_CHECKS}`);
  return value.map((check, index) => {
    const argv = typeof check === "string" ? check.trim().split(/\s+/).filter(Boolean) : check;
    if (!Array.isArray(argv) || argv.length === 0 || !argv.every((arg) => typeof arg === "string" && arg !== "")) {
      throw new Outcome(
        "failed",
        `config checks[${index}] must be a command: a non-empty string or a list of non-empty strings, got ${JSON.stringify(check)}`,
      );
    }
    return argv as string[];
  });
}

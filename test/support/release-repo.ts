import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "smol-toml";
import { REPO } from "./processes.ts";
import { tempDir } from "./temp.ts";

/** A package name never published, so the release flow's publish step asks the stand-in gh to run the workflow. */
export const UNPUBLISHED = "@codex-flows-test/bindings-never-published";
/** The bindings section of a release flow's config for UNPUBLISHED. */
export const BINDINGS = { package_name: UNPUBLISHED, generated_dir: "src/generated", package_json: "package.json" };
/** The gh arguments that start the publish workflow for UNPUBLISHED. */
export const PUBLISH_WORKFLOW = [
  "workflow",
  "run",
  "publish-codex-flows.yml",
  "--repo",
  "peezy-tech/codex-flows",
  "--ref",
  "main",
  "-f",
  `confirm_package=${UNPUBLISHED}`,
];

/** Runs git (or any argv) and returns its trimmed stdout; a failure throws with its stderr. */
export function sh(cwd: string, ...argv: string[]): string {
  const done = Bun.spawnSync(argv, {
    cwd,
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, GIT_TERMINAL_PROMPT: "0" },
  });
  if (done.exitCode !== 0)
    throw new Error(`${argv.join(" ")} in ${cwd} exited ${done.exitCode}: ${done.stderr.toString()}`);
  return done.stdout.toString().trim();
}

export type ReleaseRepo = {
  dir: string;
  flowRoot: string;
  origin: string;
  initial: string;
  remote(name: string): string;
};

/**
 * A throwaway repository the way a user has one: a package.json whose `test` script
 * loads the generated bindings, the flow package `flow` copied into `installDir`
 * (`flows` or `.codex/flows`) with `config` merged into its `[config]`, a local bare
 * `origin` holding the first commit.
 */
export function releaseRepo(
  flow: string,
  installDir: string,
  config: Record<string, unknown>,
  scripts: Record<string, string> = {},
): ReleaseRepo {
  const dir = tempDir("codex-flows-release-repo-");
  sh(dir, "git", "init", "-q", "-b", "main");
  sh(dir, "git", "config", "user.email", "flows@example.test");
  sh(dir, "git", "config", "user.name", "Release Flow Test");
  writeFileSync(
    join(dir, "package.json"),
    `${JSON.stringify({ name: "bindings-under-test", version: "0.168.0", private: true, scripts: { test: "bun check-bindings.ts", ...scripts } }, null, 2)}\n`,
  );
  writeFileSync(
    join(dir, "check-bindings.ts"),
    'const bindings = await import("./src/generated/index.ts");\nconsole.log(`bindings load: ${Object.keys(bindings).length} runtime exports`);\n',
  );
  writeFileSync(join(dir, ".gitignore"), "node_modules/\n");
  const flowRoot = join(dir, installDir, flow);
  mkdirSync(join(dir, installDir), { recursive: true });
  cpSync(join(REPO, "flows", flow), flowRoot, { recursive: true });
  const manifest = join(flowRoot, "flow.toml");
  const parsed = parse(readFileSync(manifest, "utf8")) as { config: Record<string, unknown> };
  parsed.config = { ...parsed.config, ...config };
  writeFileSync(manifest, stringify(parsed));
  sh(dir, "git", "add", "-A");
  sh(dir, "git", "commit", "-q", "-m", "initial");
  const remotes = new Map<string, string>();
  const remote = (name: string) => {
    let bare = remotes.get(name);
    if (!bare) {
      bare = tempDir(`codex-flows-${name}-`);
      sh(bare, "git", "init", "-q", "--bare", "-b", "main");
      sh(dir, "git", "remote", "add", name, bare);
      sh(dir, "git", "push", "-q", name, "HEAD:refs/heads/main");
      remotes.set(name, bare);
    }
    return bare;
  };
  const origin = remote("origin");
  return { dir, flowRoot, origin, initial: sh(dir, "git", "rev-parse", "HEAD"), remote };
}

/** Every ref of a (bare) repository, `<sha> <ref>` per line. */
export function refs(gitDir: string): string[] {
  return sh(gitDir, "git", "for-each-ref", "--format=%(objectname) %(refname)").split("\n").filter(Boolean);
}

/**
 * A recording stand-in for `gh` in a new folder (put it first on PATH): each call appends
 * its arguments as one JSON line to `record`, and it exits 0. GitHub cannot be reached here.
 */
export function standInGh(): { bin: string; record: string; calls(): string[][] } {
  const bin = tempDir("codex-flows-gh-bin-");
  const record = join(bin, "calls.jsonl");
  const script = join(bin, "gh");
  writeFileSync(
    script,
    `#!${process.execPath}\nimport { appendFileSync } from "node:fs";\nappendFileSync(${JSON.stringify(record)}, JSON.stringify(process.argv.slice(2)) + "\\n");\nconsole.log("gh stand-in: recorded");\n`,
  );
  chmodSync(script, 0o755);
  return {
    bin,
    record,
    calls: () =>
      existsSync(record)
        ? readFileSync(record, "utf8")
            .split("\n")
            .filter(Boolean)
            .map((line) => JSON.parse(line) as string[])
        : [],
  };
}

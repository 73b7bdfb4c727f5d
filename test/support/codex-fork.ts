// Real git repositories for the peezy-codex-fork tests: an upstream Codex with release
// tags and a tiny codex-rs Cargo workspace (no external crates, so cargo works offline),
// and forks carrying a two-commit patch stack, each with its own bare origin.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

const IDENTITY = {
  GIT_AUTHOR_NAME: "Upstream",
  GIT_AUTHOR_EMAIL: "upstream@example.test",
  GIT_COMMITTER_NAME: "Upstream",
  GIT_COMMITTER_EMAIL: "upstream@example.test",
};

/** Runs git (or any argv) in `cwd`; throws with its output when it fails. Returns stdout, trimmed. */
export function sh(cwd: string, argv: string[], env: Record<string, string> = {}): string {
  const proc = Bun.spawnSync(argv, {
    cwd,
    env: { ...process.env, ...IDENTITY, ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  if (proc.exitCode !== 0)
    throw new Error(
      `${argv.join(" ")} in ${cwd} exited ${proc.exitCode}: ${proc.stdout.toString()}${proc.stderr.toString()}`,
    );
  return proc.stdout.toString().trim();
}

export const git = (cwd: string, ...args: string[]) => sh(cwd, ["git", ...args]);

function write(root: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}

function commit(repo: string, message: string): string {
  git(repo, "add", "-A");
  git(repo, "commit", "-q", "-m", message);
  return git(repo, "rev-parse", "HEAD");
}

const crate = (name: string, deps: string[], extra = "") =>
  `[package]\nname = "${name}"\nversion = "0.0.0"\nedition = "2021"\n${extra}\n[dependencies]\n${deps.map((d) => `${d} = { path = "../${d.replace("codex-", "")}" }`).join("\n")}\n`;

function cli(version: string): string {
  return crate("codex-cli", ["codex-core"], `\n[[bin]]\nname = "codex"\npath = "src/main.rs"\n`).replace(
    'version = "0.0.0"',
    `version = "${version}"`,
  );
}

export const CORE_LIB = (model: string) =>
  `pub const DEFAULT_MODEL: &str = "${model}";\n\npub fn greeting() -> String {\n    let protocol = codex_protocol::PROTOCOL_NAME;\n    format!("codex {protocol} on {DEFAULT_MODEL}")\n}\n`;

const WORKSPACE: Record<string, string> = {
  ".gitignore": "target/\n",
  "README.md": "# codex (test upstream)\n",
  "codex-rs/Cargo.toml": '[workspace]\nmembers = ["cli", "app-server", "core", "protocol"]\nresolver = "2"\n',
  "codex-rs/cli/src/main.rs":
    'fn main() {\n    if std::env::args().any(|arg| arg == "--version") {\n        println!("codex-cli {}", env!("CARGO_PKG_VERSION"));\n        return;\n    }\n    println!("{}", codex_core::greeting());\n}\n',
  "codex-rs/app-server/Cargo.toml": crate("codex-app-server", ["codex-core"]),
  "codex-rs/app-server/src/lib.rs": "pub fn name() -> String {\n    codex_core::greeting()\n}\n",
  "codex-rs/core/Cargo.toml": crate("codex-core", ["codex-protocol"]),
  "codex-rs/protocol/Cargo.toml": crate("codex-protocol", []),
  "codex-rs/protocol/src/lib.rs": 'pub mod code_mode;\n\npub const PROTOCOL_NAME: &str = "app-server";\n',
  "codex-rs/protocol/src/code_mode.rs":
    'pub fn execute_method() -> &\'static str {\n    "thread/codeMode/execute"\n}\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn code_mode_method() {\n        assert_eq!(super::execute_method(), "thread/codeMode/execute");\n    }\n}\n',
};

export type Upstream = { path: string; tag169: string; tag170: string; main: string };

/**
 * An upstream Codex: rust-v0.169.0, then rust-v0.170.0 (version bump and a new default
 * model in core), then one more commit on main that no tag names.
 */
export function makeUpstream(root: string): Upstream {
  const path = join(root, "upstream");
  mkdirSync(path, { recursive: true });
  git(path, "init", "-q", "-b", "main");
  write(path, {
    ...WORKSPACE,
    "codex-rs/cli/Cargo.toml": cli("0.169.0"),
    "codex-rs/core/src/lib.rs": CORE_LIB("gpt-5"),
  });
  sh(join(path, "codex-rs"), ["cargo", "generate-lockfile", "--offline"]);
  const tag169 = commit(path, "codex 0.169.0");
  git(path, "tag", "-a", "rust-v0.169.0", "-m", "0.169.0");
  write(path, { "codex-rs/cli/Cargo.toml": cli("0.170.0"), "codex-rs/core/src/lib.rs": CORE_LIB("gpt-5.1") });
  sh(join(path, "codex-rs"), ["cargo", "generate-lockfile", "--offline"]);
  const tag170 = commit(path, "codex 0.170.0");
  git(path, "tag", "-a", "rust-v0.170.0", "-m", "0.170.0");
  write(path, { "README.md": "# codex (test upstream)\n\nMain moved on.\n" });
  const main = commit(path, "docs: main moves on");
  return { path, tag169, tag170, main };
}

/** The fork's patch stacks: two commits each, the second one decides the scenario. */
export const PATCHES = {
  /** Applies cleanly on rust-v0.170.0. */
  clean: { "codex-rs/app-server/src/peezy.rs": 'pub fn fork_name() -> &\'static str {\n    "peezy"\n}\n' },
  /** Changes the line upstream changed in rust-v0.170.0. */
  conflict: { "codex-rs/core/src/lib.rs": CORE_LIB("peezy-model") },
  /** Builds, but is not rustfmt-clean. */
  misformatted: { "codex-rs/app-server/src/peezy.rs": 'pub fn  fork_name( )->&\'static str{"peezy"}\n' },
} as const;

export type Fork = { path: string; origin: string; patchSubjects: string[] };

/**
 * A fork of `upstream` at rust-v0.169.0 with two patches (code mode in the protocol,
 * then `second`), published to its own bare origin and cloned; the clone has no
 * upstream remote (the flow adds it) and knows no tag newer than rust-v0.169.0.
 */
export function makeFork(root: string, upstream: Upstream, name: string, second: keyof typeof PATCHES): Fork {
  const work = join(root, `${name}-work`);
  git(root, "clone", "-q", "--no-tags", upstream.path, work);
  git(work, "checkout", "-q", "-B", "main", upstream.tag169);
  const code = `${WORKSPACE["codex-rs/protocol/src/code_mode.rs"]!.replace("#[cfg(test)]", "pub fn fork_enabled() -> bool {\n    true\n}\n\n#[cfg(test)]")}`;
  write(work, {
    "codex-rs/protocol/src/code_mode.rs": code.replace(
      "    #[test]\n    fn code_mode_method",
      "    #[test]\n    fn code_mode_fork_enabled() {\n        assert!(super::fork_enabled());\n    }\n\n    #[test]\n    fn code_mode_method",
    ),
  });
  const subjects = ["peezy: code mode in the protocol", `peezy: ${second} patch`];
  commit(work, subjects[0]!);
  write(work, second === "conflict" ? PATCHES.conflict : PATCHES[second]);
  if (second !== "conflict")
    write(work, {
      "codex-rs/app-server/src/lib.rs": "pub mod peezy;\n\npub fn name() -> String {\n    codex_core::greeting()\n}\n",
    });
  commit(work, subjects[1]!);
  const origin = join(root, `${name}-origin.git`);
  git(root, "clone", "-q", "--bare", work, origin);
  const path = join(root, name);
  git(root, "clone", "-q", origin, path);
  git(path, "config", "user.name", "Fork Maintainer");
  git(path, "config", "user.email", "fork@example.test");
  return { path, origin, patchSubjects: subjects };
}

// The checkout the step works on, and paths inside it.
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import type { Commands } from "./commands.ts";
import { fromEnvOrConfig, Outcome } from "./release.ts";

type Env = Record<string, string | undefined>;

/**
 * The repository to update: `repo` / the variable named by `repo_env` when configured,
 * else the git top level of `cwd` (right both from a repository's `flows/` and from its
 * `.codex/flows/`). Not a checkout: `failed` when configured, `blocked` when not.
 */
export async function findRepository(
  config: Record<string, unknown>,
  env: Env,
  cwd: string,
  commands: Commands,
): Promise<string> {
  const chosen = fromEnvOrConfig(config, env, "repo");
  const start = chosen ? resolve(cwd, chosen.value.replace(/^~(?=$|\/)/, homedir())) : cwd;
  if (chosen && !existsSync(start))
    throw new Outcome("failed", `${chosen.from} points at ${start}, which does not exist`);
  const top = await commands.run("find the git repository", ["git", "rev-parse", "--show-toplevel"], {
    cwd: start,
    allowFailure: true,
  });
  if (top.exitCode === 0 && top.output.trim()) return top.output.trim();
  if (chosen) throw new Outcome("failed", `${chosen.from} points at ${start}, which is not inside a git checkout`);
  throw new Outcome(
    "blocked",
    `the step's working directory ${cwd} is not inside a git checkout: install the flow inside the repository to update (its flows/ or .codex/flows/), or point it at one with repo or the variable named by repo_env`,
  );
}

/** `written` resolved inside `repo`; anything outside it (or the root itself, for a folder) is `failed` naming the key. */
export function inside(repo: string, written: string, key: string, allowRoot = false): string {
  const absolute = resolve(repo, written);
  const rel = relative(repo, absolute);
  const outside = rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel);
  if (outside || (!allowRoot && rel === ""))
    throw new Outcome("failed", `config ${key} = "${written}" must name a path inside the repository ${repo}`);
  return absolute;
}

/**
 * Deletes the tracked files under `dir`, so a type openai/codex removed disappears from
 * the bindings (the generator only writes). Tracked files only: git can bring every one
 * back, and untracked files there are left alone.
 */
export async function clearTracked(repo: string, dir: string, commands: Commands): Promise<number> {
  const listed = await commands.run(
    "list the tracked generated files",
    ["git", "ls-files", "-z", "--", relative(repo, dir)],
    { cwd: repo },
  );
  const files = listed.output.split("\0").filter(Boolean);
  for (const file of files) rmSync(join(repo, file), { force: true });
  return files.length;
}

/** The repository's package.json has a `test` script (the default check). */
export function hasTestScript(repo: string): boolean {
  const path = join(repo, "package.json");
  if (!existsSync(path)) return false;
  try {
    const scripts = (JSON.parse(readFileSync(path, "utf8")) as { scripts?: Record<string, unknown> }).scripts;
    return typeof scripts?.test === "string";
  } catch {
    // An unreadable package.json fails loudly at `bun install`; here it only means "no default check".
    return false;
  }
}

/** Sets `version` in a package.json, keeping its indentation and final newline; returns the previous version. */
export function setPackageVersion(path: string, version: string): string | undefined {
  if (!existsSync(path)) throw new Outcome("failed", `package_json ${path} does not exist`);
  const raw = readFileSync(path, "utf8");
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(raw) as Record<string, unknown>;
  } catch (error) {
    throw new Outcome("failed", `package_json ${path} is not valid JSON: ${(error as Error).message}`);
  }
  const previous = typeof parsed.version === "string" ? parsed.version : undefined;
  if (previous === version) return previous;
  const indent = /^[ \t]+(?=")/m.exec(raw)?.[0] ?? "  ";
  parsed.version = version;
  writeFileSync(path, `${JSON.stringify(parsed, null, indent)}${raw.endsWith("\n") ? "\n" : ""}`);
  return previous;
}

/** The lockfiles `bun install` maintains that exist in the repository. */
export function lockfiles(repo: string): string[] {
  return ["bun.lock", "bun.lockb"].filter((name) => existsSync(join(repo, name)));
}

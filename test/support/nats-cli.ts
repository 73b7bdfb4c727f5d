/**
 * The real `nats` CLI (natscli, installed by scripts/install-nats-cli.sh), run the way an
 * operator runs the docs' commands: through bash, or in a terminal for the ones that
 * page (`nats stream view` refuses to run without one).
 */

/** Where the CLI is: `NATS_CLI_BIN`, else `nats` on PATH (or /usr/local/bin); undefined when it is missing. */
export function findNatsCli(): string | undefined {
  return process.env.NATS_CLI_BIN ?? Bun.which("nats") ?? Bun.which("nats", { PATH: "/usr/local/bin" }) ?? undefined;
}

/** Where the CLI is; a clear error when it is missing. */
export function natsCliBinary(): string {
  const found = findNatsCli();
  if (!found) throw new Error("the nats CLI is not installed: run scripts/install-nats-cli.sh (natscli v0.5.0)");
  return found;
}

export type ShellResult = { code: number; stdout: string; stderr: string };

/** Runs a bash command line (pipes, `$(...)`) with `nats` on PATH and the given variables; bounded by `timeoutMs`. */
export async function sh(
  command: string,
  env: Record<string, string>,
  cwd: string,
  timeoutMs = 20_000,
): Promise<ShellResult> {
  const bin = natsCliBinary().replace(/\/nats$/, "");
  const child = Bun.spawn(["bash", "-euo", "pipefail", "-c", command], {
    cwd,
    env: { ...process.env, ...env, PATH: `${bin}:${process.env.PATH ?? ""}:/usr/sbin` },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  try {
    const [stdout, stderr, code] = await Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
      child.exited,
    ]);
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

const ESC = "\u001b";

/**
 * Runs a command in a pseudo-terminal (util-linux `script`), answering what the CLI's
 * prompts ask of a terminal: the cursor position (ESC[6n) and "Next Page?" (no, after
 * the first page). Returns what it printed, escape sequences removed.
 */
export async function inTerminal(
  command: string,
  env: Record<string, string>,
  timeoutMs = 20_000,
): Promise<ShellResult> {
  const bin = natsCliBinary().replace(/\/nats$/, "");
  const child = Bun.spawn(["script", "-qec", command, "/dev/null"], {
    env: { ...process.env, ...env, PATH: `${bin}:${process.env.PATH ?? ""}`, TERM: "xterm" },
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  let raw = "";
  let answered = 0;
  const decoder = new TextDecoder();
  try {
    for await (const chunk of child.stdout) {
      raw += decoder.decode(chunk, { stream: true });
      const asks = raw.split(`${ESC}[6n`).length - 1;
      while (answered < asks) {
        // One cursor report per query; the page prompt takes "n" once it is drawn.
        child.stdin.write(`${ESC}[24;1R`);
        answered++;
        if (answered === asks && raw.includes("Next Page?")) child.stdin.write("n\r");
        child.stdin.flush();
      }
    }
    const [stderr, code] = await Promise.all([new Response(child.stderr).text(), child.exited]);
    return { code, stdout: raw.replace(/\u001b\[[0-9;?]*[A-Za-z]|\u001b[78]|\r/g, ""), stderr };
  } finally {
    clearTimeout(timer);
  }
}

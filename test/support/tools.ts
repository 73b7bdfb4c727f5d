/**
 * Whether to skip a test (or the checks in it) that needs a tool only the tests use:
 * never when the tool is there, and never in CI (CI=true installs everything, so a
 * missing tool fails the test). Elsewhere a missing tool is one `bun run test` could not
 * install here (no Go, no network; scripts/install-test-tools.sh warned): what needs it
 * is skipped, and this says why.
 */
export function skipWithoutTool(present: boolean, what: string, installer: string): boolean {
  if (present || process.env.CI) return false;
  console.warn(
    `skipped: ${what} is not installed here, and \`bash ${installer}\` could not install it (\`bun run test\` tries; see its warning), so what needs it does not run here. CI always runs it.`,
  );
  return true;
}

/** Runs a command to its end (SIGKILL after `timeoutMs`): its exit code and both streams, stdout first. */
export async function runCommand(
  argv: string[],
  options: { cwd: string; env: Record<string, string>; timeoutMs?: number },
): Promise<{ code: number; output: string }> {
  const child = Bun.spawn(argv, {
    cwd: options.cwd,
    env: options.env,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 100_000);
  try {
    const [stdout, stderr, code] = await Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
      child.exited,
    ]);
    return { code, output: `${stdout}${stderr}` };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Whether to skip a test (or the checks in it) that needs a tool only the tests use:
 * never when the tool is there, and never in CI (CI=true installs everything, so a
 * missing tool fails the test). Elsewhere a missing tool is one `bun run test` could not
 * install here (no Go, no network; scripts/install-test-tools.sh warned): what needs it
 * is skipped, and this says why.
 */
export function skipWithoutTool(present: boolean, what: string, installer: string): boolean {
  if (present || process.env.CI) return false;
  console.warn(`skipped: ${what} is not installed here, and \`bash ${installer}\` could not install it (\`bun run test\` tries; see its warning), so what needs it does not run here. CI always runs it.`);
  return true;
}

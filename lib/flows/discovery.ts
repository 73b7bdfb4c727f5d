import { existsSync, readdirSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { type Flow, loadManifest, ManifestError, resolvesInside } from "./manifest.ts";

/** Something under the flow folders that did not load; `flow` (and `step`) name what is missing because of it. */
export type DiscoveryProblem = { path: string; message: string; flow?: string; step?: string };
export type ShadowedFlow = { name: string; path: string; shadowedBy: string };
export type Discovery = { flows: Flow[]; problems: DiscoveryProblem[]; shadowed: ShadowedFlow[] };

/** Where flows live under a working directory, highest precedence first (installed copies win). */
export const FLOW_DIRS: readonly string[] = [".codex/flows", "flows"];
export const MANIFEST_FILE = "flow.toml";

/**
 * Finds every `<dir>/<flow>/flow.toml` under `cwd` for each of FLOW_DIRS. A manifest
 * that fails to load (bad TOML, bad field, no step that can run) becomes a problem and
 * its flow is dropped; a step whose script is missing becomes a problem and only that
 * step is dropped. Only loaded flows take part in shadowing, so a broken installed
 * copy does not hide a working one; the problem entry still reports it. A flow folder
 * that is a symlink to somewhere outside `cwd` is refused like a `../` path.
 */
export function discoverFlows(cwd: string): Discovery {
  const byName = new Map<string, Flow>();
  const problems: DiscoveryProblem[] = [];
  const shadowed: ShadowedFlow[] = [];
  const realCwd = existsSync(cwd) ? realpathSync(cwd) : resolve(cwd);
  for (const dir of FLOW_DIRS) {
    const claimedHere = new Set<string>();
    for (const manifestPath of manifestsIn(resolve(cwd, dir), problems)) {
      // A flow folder may be a link (an installed copy), but only to somewhere inside the working directory.
      if (!resolvesInside(realCwd, dirname(manifestPath))) {
        problems.push({
          path: manifestPath,
          message: `${manifestPath}: the flow folder resolves through a symlink to ${realpathSync(dirname(manifestPath))}, outside the working directory ${realCwd}`,
        });
        continue;
      }
      const flow = tryLoad(manifestPath, problems);
      if (!flow) continue;
      for (const broken of flow.brokenSteps ?? []) {
        problems.push({
          path: manifestPath,
          flow: flow.name,
          step: broken.step,
          message: `${manifestPath}: ${broken.field}: ${broken.message}`,
        });
      }
      const winner = byName.get(flow.name);
      if (winner && claimedHere.has(flow.name)) {
        // Two folders of one directory have no precedence between them, so this is a mistake to report.
        problems.push({
          path: manifestPath,
          message: `duplicate flow name "${flow.name}", already declared by ${winner.manifestPath}`,
        });
      } else if (winner) {
        shadowed.push({ name: flow.name, path: manifestPath, shadowedBy: winner.manifestPath });
      } else {
        byName.set(flow.name, flow);
        claimedHere.add(flow.name);
      }
    }
  }
  const flows = [...byName.values()].sort(byFlowName);
  return { flows, problems, shadowed };
}

/** Orders flows by name with plain code-unit comparison, so the order does not depend on the locale. */
export function byFlowName(a: Flow, b: Flow): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Manifest paths of the immediate subfolders of `dir`, sorted so that results are stable. */
function manifestsIn(dir: string, problems: DiscoveryProblem[]): string[] {
  if (!existsSync(dir)) return [];
  try {
    return (
      readdirSync(dir)
        .sort()
        .map((entry) => join(dir, entry, MANIFEST_FILE))
        // statSync follows symlinks, so a flow folder installed as a link is found too.
        .filter((manifestPath) => existsSync(manifestPath) && statSync(manifestPath).isFile())
    );
  } catch (error) {
    problems.push({ path: dir, message: `cannot read flow directory: ${(error as Error).message}` });
    return [];
  }
}

function tryLoad(manifestPath: string, problems: DiscoveryProblem[]): Flow | undefined {
  try {
    return loadManifest(manifestPath);
  } catch (error) {
    // ManifestError messages already start with the path; other errors (EACCES...) need it added. A manifest's every error is its own problem.
    for (const { message } of error instanceof ManifestError ? error.all : [error as Error]) {
      // The folder names the flow well enough when its manifest cannot say.
      problems.push({
        path: manifestPath,
        flow: basename(dirname(manifestPath)),
        message: message.startsWith(manifestPath) ? message : `${manifestPath}: ${message}`,
      });
    }
    return undefined;
  }
}

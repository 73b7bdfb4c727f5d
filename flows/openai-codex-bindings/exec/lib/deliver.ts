// Pushing and publishing a commit the flow made, now or once a person approved it
// (approve_push / approve_publish). Self-contained like the rest of the package.
import type { Commands } from "./commands.ts";
import { Outcome } from "./release.ts";
import type { Settings } from "./settings.ts";

/** What is done with a commit: push it to push_remote, publish it (push to publish_remote, start the workflow). */
export type Delivery = { push: boolean; publish: boolean };

/** The event type the step's held result starts once approved; the flow's `deliver-approved` step handles it. */
export const DELIVER_TYPE = "openai-codex-bindings.deliver";

/**
 * Splits what the settings ask into what happens now and what waits for approval: a
 * push that needs approval holds the publish after it too (it builds what was pushed).
 */
export function splitDelivery(s: Settings): { now: Delivery; held: Delivery } {
  const holdPush = s.push && s.approvePush;
  const holdPublish = s.publish && (holdPush || s.approvePublish);
  return {
    now: { push: s.push && !holdPush, publish: s.publish && !holdPublish },
    held: { push: holdPush, publish: holdPublish },
  };
}

/** The words for a delivery: "push to origin/main; publish workflow X started on Y". */
export function describeDelivery(s: Settings, d: Delivery, done: boolean): string[] {
  return [
    d.push && `${done ? "pushed" : "push"} to ${s.pushRemote}/${s.branch}`,
    d.publish &&
      `${done ? "" : "start "}publish workflow ${s.githubPublishWorkflow}${done ? " started" : ""} on ${s.githubRepo}`,
  ].filter((part): part is string => typeof part === "string");
}

/** Push and publish; a failure here says the commit exists and what to run by hand. */
export async function deliver(commands: Commands, head: string, repo: string, s: Settings, d: Delivery): Promise<void> {
  const at = { cwd: repo };
  try {
    if (d.push)
      await commands.run(`push to ${s.pushRemote}`, ["git", "push", s.pushRemote, `HEAD:refs/heads/${s.branch}`], at);
    if (d.publish) {
      // The workflow builds what GitHub has, so the commit goes there first.
      if (!(d.push && s.publishRemote === s.pushRemote))
        await commands.run(
          `push to ${s.publishRemote}`,
          ["git", "push", s.publishRemote, `HEAD:refs/heads/${s.branch}`],
          at,
        );
      const workflow = [
        "gh",
        "workflow",
        "run",
        s.githubPublishWorkflow,
        "--repo",
        s.githubRepo,
        "--ref",
        s.branch,
        "-f",
        `confirm_package=${s.packageName}`,
      ];
      await commands.run("start the publish workflow", workflow, at);
    }
  } catch (error) {
    if (!(error instanceof Outcome)) throw error;
    throw new Outcome(
      "failed",
      `${error.message} (commit ${head.slice(0, 12)} is made in ${repo}; a new run for this release finds nothing to regenerate, so finish by hand: push it, then start the publish workflow if wanted)`,
      {
        committed: true,
      },
    );
  }
}

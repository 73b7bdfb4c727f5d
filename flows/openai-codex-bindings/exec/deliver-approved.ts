// openai-codex-bindings / deliver-approved: pushes (and publishes) the commit the
// regenerate-bindings step made, once a person approved it (approve_push /
// approve_publish, docs/release-flows.md). It runs only for that step's held `next`
// event (an id only the executor gives; POST /events refuses that form) and only when
// the checkout's HEAD is still the approved commit, so nothing else can be pushed.
import { boundRecords, Commands } from "./lib/commands.ts";
import { type Delivery, deliver, describeDelivery } from "./lib/deliver.ts";
import { Outcome, parseStepInput } from "./lib/release.ts";
import { findRepository } from "./lib/repo.ts";
import { readSettings } from "./lib/settings.ts";

const env = process.env;
const commands = new Commands(env);
const facts: Record<string, unknown> = {};
const HELD_ID = /^run-[0-9a-f]{24}\/next\/\d+$/;

try {
  const input = parseStepInput(await Bun.stdin.text());
  const { event } = input;
  const p = event.payload;
  if (!HELD_ID.test(event.id))
    throw new Outcome(
      "failed",
      `event ${JSON.stringify(event.id)} is not the held result of regenerate-bindings (an id <runId>/next/<n>); nothing was pushed`,
    );
  if (typeof p.commit !== "string" || !/^[0-9a-f]{40}$/.test(p.commit))
    throw new Outcome(
      "failed",
      `payload.commit must be a full commit id, got ${JSON.stringify(p.commit)}; nothing was pushed`,
    );
  const settings = readSettings(input.config, env);
  const repo = await findRepository(input.config, env, process.cwd(), commands);
  Object.assign(facts, { repo, commit: p.commit, tag: p.tag, version: p.version });
  if (typeof p.repo === "string" && p.repo !== repo)
    throw new Outcome(
      "failed",
      `the approved commit was made in ${p.repo}, but this step works on ${repo}; nothing was pushed`,
    );
  const head = (await commands.run("read HEAD", ["git", "rev-parse", "HEAD"], { cwd: repo })).output.trim();
  if (head !== p.commit)
    throw new Outcome(
      "failed",
      `${repo}'s HEAD is ${head.slice(0, 12)}, not the approved commit ${p.commit.slice(0, 12)}; nothing was pushed (push the approved commit by hand if it is still wanted)`,
    );
  const delivery: Delivery = { push: p.push === true, publish: p.publish === true };
  await deliver(commands, head, repo, settings, delivery);
  const did = describeDelivery(settings, delivery, true);
  finish(
    new Outcome(
      "changed",
      `approved: ${did.length ? did.join("; ") : "nothing to deliver"} (commit ${head.slice(0, 12)})`,
      {
        pushed: delivery.push,
        published: delivery.publish,
      },
    ),
  );
} catch (error) {
  finish(
    error instanceof Outcome
      ? error
      : new Outcome("failed", `unexpected error: ${(error as Error)?.stack ?? String(error)}`),
  );
}

function finish(outcome: Outcome): never {
  const artifacts = { ...facts, ...outcome.artifacts, commands: boundRecords(commands.records) };
  console.log(`FLOW_RESULT ${JSON.stringify({ status: outcome.status, message: outcome.message, artifacts })}`);
  process.exit(0);
}

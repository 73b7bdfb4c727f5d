#!/usr/bin/env bun
import { type ClientConfig, ConfigError, type Config, loadClientConfig, loadConfig } from "../lib/config.ts";
import { HintError } from "../lib/hint.ts";
import { EXIT, parse, portFlag, UsageError } from "../cli/args.ts";
import { fireLocally, listFlows, runLocally } from "../cli/local.ts";
import { operateRun, publish, replayEvent } from "../cli/client.ts";
import { listEvents, listRuns, listSchedules } from "../cli/listings.ts";
import { outputFormat } from "../cli/output.ts";
import { archive, purge } from "../cli/data.ts";
import { listAudit } from "../cli/audit.ts";
import { bulkReplay, pauseFlow, pauseMarks } from "../cli/flow-control.ts";
import { logs } from "../cli/logs.ts";
import { projectorCommand } from "../cli/projector.ts";
import { trimCommand } from "../cli/snapshot.ts";
import { dev, serve } from "../cli/serve.ts";
import { redeliverGithub } from "../cli/github/redeliver.ts";

/** Every command: its usage line and what it does; `flow <command> --help` prints its own. */
const COMMANDS: Record<string, { usage: string; about: string; group: "local" | "system" | "client" }> = {
  list: {
    group: "local",
    usage: "list",
    about: "list the flows found under --cwd (.codex/flows and flows; on a name clash .codex/flows wins); marks paused\nflows and steps when an ingress answers at --url; exits 1 when any flow or step did not load",
  },
  fire: { group: "local", usage: "fire --event FILE", about: "run every step whose trigger matches the event, here; exits 3 when none matched" },
  run: { group: "local", usage: "run FLOW STEP --event FILE", about: "run one step for the event, here (warns when its trigger would not match); both check a result's\nnext events as the system would (docs/cli.md)" },
  dev: {
    group: "system",
    usage: "dev [--example] [--require-durable]",
    about:
      "everything on this machine: an embedded nats-server (unless NATS_URL is set), ingress, matcher,\nexecutor and projector in one process; --example also fires the example flow;\n--require-durable refuses to start on settings weaker than docs/durability.md documents",
  },
  projector: {
    group: "system",
    usage: "projector rebuild [--output FILE] [--from-scratch] | snapshot [--keep N] | vacuum [--full]",
    about:
      "rebuild: the read model again from the newest snapshot the stream still covers and the messages\nafter it (--from-scratch, or no snapshot: from sequence 1), into FILE or swapped in for this host's\n(stop its projector and ingress first); snapshot: a consistent copy of the read model with the\nsequence it reflects, in the data directory's snapshots/ (--keep N: only the newest N);\nvacuum [--full]: give the space purges freed back to the file system (--full: once, for a file\nmade before 2026-12-07)",
  },
  stream: {
    group: "system",
    usage: "stream trim --to-snapshot [--dry-run]",
    about: "remove the history the newest snapshot holds (and every durable consumer has acked) from the\nstream; pauses, held and debounced runs, schedule ticks stay; --dry-run: say what would go",
  },
  serve: {
    group: "system",
    usage: "serve <ingress|matcher|executor|projector|all> [--require-durable]",
    about: "one service (or all four) as this process, against NATS_URL (default nats://127.0.0.1:4222);\nwarns about (--require-durable: refuses) settings weaker than docs/durability.md documents",
  },
  publish: { group: "client", usage: "publish --event FILE [--wait none|matched|true]", about: "post the event (signed when CODEX_FLOW_BACKEND_SECRET is set)" },
  runs: {
    group: "client",
    usage: "runs [--event ID] [--flow F] [--step S] [--status S,..] [--host H] [--since T] [--until T] [--limit N]",
    about: "runs, newest first (an event's oldest first), the 20 newest unless --limit (at most 10000);\n--status: the STATUS column's statuses; --since/--until: an ISO time or 30m, 2h, 7d back",
  },
  events: { group: "client", usage: "events [--type T] [--source S] [--since T] [--until T] [--limit N]", about: "events, newest first (the 20 newest unless --limit)" },
  logs: {
    group: "client",
    usage: "logs RUN [-f] [--attempt N]",
    about: "a run's output, each attempt after a header line on stderr; --attempt N: only that attempt's;\n-f follows it until the run ends (reconnecting when the connection drops)",
  },
  cancel: { group: "client", usage: "cancel RUN [--reason TEXT]", about: "cancel a queued or running run (--reason: why, for the audit log)" },
  retry: { group: "client", usage: "retry RUN [--reason TEXT]", about: "start a new attempt of a run that ended (--reason: why, for the audit log)" },
  replay: {
    group: "client",
    usage: "replay EVENT [--wait none|matched|true] [--flow F] [--reason TEXT]",
    about:
      "match a stored event again (new runs, marked as a replay); or in bulk:\nreplay --type T --since TIME [--until TIME] [--flow F] [--dry-run] [--concurrency N]\nper event, the steps that match now versus then; without --dry-run replays them,\nN at a time (default 4)",
  },
  archive: {
    group: "client",
    usage: "archive --before DATE [--flow F] [--status S] --out DIR",
    about: "write what a purge of the same selection would delete as gzip JSON Lines in DIR, read back\nand verified (line count, SHA-256)",
  },
  purge: {
    group: "client",
    usage: "purge --before DATE [--flow F] [--status S] [--dry-run]",
    about: "delete final runs created before DATE (with their events, attempts, output) through the\nstream, so every host's read model agrees; --dry-run: counts and bytes per flow and status",
  },
  audit: {
    group: "client",
    usage: "audit [--action A] [--actor NAME] [--flow F] [--run ID] [--event ID] [--since TIME] [--until TIME] [--limit N] [--json]",
    about: "the operator actions (cancel, retry, replay, bulk-replay, pause, resume, purge), newest first:\nwho (the token's name), when, on what and why; --action takes a comma-separated list; at most\n--limit records (default 50); --json: one JSON object a line",
  },
  schedules: { group: "client", usage: "schedules [--json]", about: "every schedule with its next and last tick" },
  pause: { group: "client", usage: "pause FLOW [--step STEP] [--reason TEXT]", about: "hold the flow's (or step's) matched runs until it is resumed" },
  resume: { group: "client", usage: "resume FLOW [--step STEP]", about: "queue the held runs, in order" },
  sources: {
    group: "client",
    usage: "sources github redeliver --repo OWNER/REPO --hook ID --since TIME [--dry-run]",
    about:
      "ask GitHub to redeliver the hook's failed deliveries since TIME (GitHub never retries by itself):\nlists them through GitHub's REST API (token: GH_TOKEN or GITHUB_TOKEN; --api-url URL or\nCODEX_FLOW_GITHUB_API_URL for GitHub Enterprise, default https://api.github.com), skips one a later\nattempt delivered, reads at most --max-pages pages of 100 (default 50); --dry-run: only lists them",
  },
};

const OPTIONS = `Options:
  --json         JSON Lines: a listing's items, a write's record, one object a line (same as --format json)
  --format F     table (the default) or json; docs/cli.md lists the fields
  --cwd DIR      where flows are discovered (CODEX_FLOW_BACKEND_CWD, default: the current directory; must exist)
  --port N       the ingress port (CODEX_FLOW_BACKEND_PORT, default 7345)
  --url URL      the ingress a client command talks to (CODEX_FLOW_URL, default http://HOST:PORT)
  -h, --help     help; \`bun run flow <command> --help\` for one command; configuration: docs/configuration.md
`;

function section(group: "local" | "system" | "client"): string {
  return Object.values(COMMANDS)
    .filter((c) => c.group === group)
    .map((c) => `  ${c.usage.length < 34 ? c.usage.padEnd(34) : `${c.usage}\n${" ".repeat(36)}`}${c.about.replaceAll("\n", `\n${" ".repeat(36)}`)}`)
    .join("\n");
}

const HELP = `flow: codex-flows on NATS JetStream

Usage: bun run flow <command> [options]

Local (no NATS, as the original one-host backend):
${section("local")}

System:
${section("system")}

Client (talks to a running ingress at --url, default CODEX_FLOW_URL or http://HOST:PORT):
${section("client")}

Exit codes: 0 done, 1 failed (an API error, a failed step), 2 a usage mistake, 3 \`flow fire\` matched no step (docs/cli.md)

${OPTIONS}`;

/** One command's own help. */
function commandHelp(name: string): string {
  const command = COMMANDS[name]!;
  return `Usage: bun run flow ${command.usage} [options]\n\n${command.about}\n\n${OPTIONS}`;
}

const COMMON = { cwd: { type: "string" }, port: { type: "string" }, url: { type: "string" } } as const;

/** Commands without a JSON form: `--json` (`--format`) is a usage mistake there, not ignored. */
const NO_JSON = new Set(["dev", "serve", "projector", "stream", "logs", "archive", "purge", "sources"]);

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === "help" || command === "--help" || command === "-h") {
    console.log(HELP);
    return command ? 0 : 2;
  }
  const { values, positionals } = parse(rest, {
    ...COMMON,
    event: { type: "string" },
    wait: { type: "string" },
    json: { type: "boolean" },
    format: { type: "string" },
    limit: { type: "string" },
    host: { type: "string" },
    source: { type: "string" },
    attempt: { type: "string" },
    example: { type: "boolean" },
    follow: { type: "boolean", short: "f" },
    output: { type: "string" },
    step: { type: "string" },
    reason: { type: "string" },
    type: { type: "string" },
    since: { type: "string" },
    until: { type: "string" },
    flow: { type: "string" },
    "dry-run": { type: "boolean" },
    concurrency: { type: "string" },
    before: { type: "string" },
    status: { type: "string" },
    out: { type: "string" },
    full: { type: "boolean" },
    keep: { type: "string" },
    "from-scratch": { type: "boolean" },
    "to-snapshot": { type: "boolean" },
    "require-durable": { type: "boolean" },
    repo: { type: "string" },
    hook: { type: "string" },
    "api-url": { type: "string" },
    "max-pages": { type: "string" },
    action: { type: "string" },
    actor: { type: "string" },
    run: { type: "string" },
  });
  if (values.help) {
    console.log(COMMANDS[command] ? commandHelp(command) : HELP);
    return 0;
  }
  if (NO_JSON.has(command) && (values.json || values.format !== undefined)) throw new UsageError(`flow ${command} has no JSON form: drop ${values.json ? "--json" : "--format"}`);
  const format = outputFormat(values);
  const filters = { event: values.event, flow: values.flow, step: values.step, status: values.status, host: values.host, type: values.type, source: values.source, since: values.since, until: values.until, limit: values.limit };
  const overrides: Partial<Config> = {
    ...(values.cwd ? { cwd: values.cwd } : {}),
    ...(values.port ? { port: portFlag(values.port) } : {}),
    ...(values["require-durable"] ? { requireDurable: true } : {}),
  };
  const { cwd, ...target }: ClientConfig = loadClientConfig(process.env, { cwd: overrides.cwd, port: overrides.port, url: values.url });
  switch (command) {
    case "list":
      return listFlows(cwd, await pauseMarks(target), format);
    case "fire":
      return await fireLocally(cwd, values.event, format);
    case "run":
      return await runLocally(cwd, positionals[0], positionals[1], values.event, format);
    case "serve":
      await serve(positionals[0], overrides);
      return -1;
    case "dev":
      await dev(overrides, values.example === true);
      return -1;
    case "publish":
      return await publish(target, values.event, values.wait, format);
    case "runs":
      return await listRuns(target, filters, format);
    case "events":
      return await listEvents(target, filters, format);
    case "projector":
      return await projectorCommand(positionals[0], { output: values.output, full: values.full, keep: values.keep, fromScratch: values["from-scratch"] }, overrides);
    case "stream":
      return await trimCommand(loadConfig(process.env, overrides), positionals[0], values["to-snapshot"] === true, values["dry-run"] === true);
    case "archive":
      return await archive(target, { before: values.before, flow: values.flow, status: values.status }, values.out);
    case "purge":
      return await purge(target, { before: values.before, flow: values.flow, status: values.status }, values["dry-run"] === true);
    case "logs":
      return await logs(target, positionals[0], values.follow === true, values.attempt);
    case "cancel":
    case "retry":
      return await operateRun(target, command, positionals[0], format, values.reason);
    case "replay":
      if (values.type !== undefined || values.since !== undefined || values["dry-run"]) {
        const bulk = { dryRun: values["dry-run"] === true, format, concurrency: values.concurrency };
        return await bulkReplay(target, { ...bulk, type: values.type, since: values.since, until: values.until, flow: values.flow });
      }
      return await replayEvent(target, positionals[0], values.wait, values.flow, format, values.reason);
    case "schedules":
      return await listSchedules(target, format);
    case "audit":
      return await listAudit(target, { action: values.action, actor: values.actor, flow: values.flow, run: values.run, event: values.event, since: values.since, until: values.until, limit: values.limit, json: format === "json" });
    case "pause":
    case "resume":
      return await pauseFlow(target, command, positionals[0], values.step, values.reason, format);
    case "sources":
      if (positionals[0] !== "github" || positionals[1] !== "redeliver") throw new UsageError(`sources ${positionals.join(" ")}: the one sources command is \`sources github redeliver\``);
      return await redeliverGithub({ repo: values.repo, hook: values.hook, since: values.since, dryRun: values["dry-run"] === true, apiUrl: values["api-url"], maxPages: values["max-pages"] });
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

try {
  const code = await main(process.argv.slice(2));
  // Long-running commands (serve, dev) return -1 and keep the process alive.
  if (code >= 0) process.exit(code);
} catch (error) {
  if (error instanceof UsageError || error instanceof ConfigError) {
    console.error(`flow: ${error.message}\nRun \`bun run flow --help\` for usage.`);
    process.exit(EXIT.usage);
  }
  if (error instanceof HintError) {
    console.error(`flow: ${error.message}`);
    process.exit(EXIT.failed);
  }
  console.error(`flow: ${(error as Error).stack ?? error}`);
  process.exit(EXIT.failed);
}

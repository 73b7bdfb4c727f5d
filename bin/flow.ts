#!/usr/bin/env bun
import { EXIT, parse, portFlag, UsageError } from "../cli/args.ts";
import { listAudit } from "../cli/audit.ts";
import { decideRun, operateRun, publish, replayEvent } from "../cli/client.ts";
import { archive, purge } from "../cli/data.ts";
import { bulkReplay, pauseFlow, pauseMarks } from "../cli/flow-control.ts";
import { listFlows } from "../cli/flow-list.ts";
import { redeliverGithub } from "../cli/github/redeliver.ts";
import { COMMANDS, commandHelp, HELP } from "../cli/help.ts";
import { listEvents, listRuns, listSchedules } from "../cli/listings.ts";
import { fireLocally, runLocally } from "../cli/local.ts";
import { logs } from "../cli/logs.ts";
import { outputFormat } from "../cli/output.ts";
import { projectorCommand } from "../cli/projector.ts";
import { dev, serve } from "../cli/serve.ts";
import { trimCommand } from "../cli/snapshot.ts";
import { type ClientConfig, type Config, ConfigError, loadClientConfig, loadConfig } from "../lib/config.ts";
import { HintError } from "../lib/hint.ts";

/** Every command: its usage line and what it does; `flow <command> --help` prints its own. */
const COMMON = { cwd: { type: "string" }, port: { type: "string" }, url: { type: "string" } } as const;

/** Commands without a JSON form: `--json` (`--format`) is a usage mistake there, not ignored. */
const NO_JSON = new Set(["dev", "serve", "projector", "stream", "logs", "archive", "sources"]);

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
    comment: { type: "string" },
    type: { type: "string" },
    since: { type: "string" },
    until: { type: "string" },
    flow: { type: "string" },
    "dry-run": { type: "boolean" },
    force: { type: "boolean" },
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
  if (NO_JSON.has(command) && (values.json || values.format !== undefined))
    throw new UsageError(`flow ${command} has no JSON form: drop ${values.json ? "--json" : "--format"}`);
  const format = outputFormat(values);
  const filters = {
    event: values.event,
    flow: values.flow,
    step: values.step,
    status: values.status,
    host: values.host,
    type: values.type,
    source: values.source,
    since: values.since,
    until: values.until,
    limit: values.limit,
  };
  const overrides: Partial<Config> = {
    ...(values.cwd ? { cwd: values.cwd } : {}),
    ...(values.port ? { port: portFlag(values.port) } : {}),
    ...(values["require-durable"] ? { requireDurable: true } : {}),
  };
  const { cwd, ...target }: ClientConfig = loadClientConfig(process.env, {
    cwd: overrides.cwd,
    port: overrides.port,
    url: values.url,
  });
  switch (command) {
    case "list":
      return listFlows(cwd, await pauseMarks(target), format);
    case "fire":
      return await fireLocally(cwd, values.event, format);
    case "run":
      return await runLocally(cwd, positionals[0], positionals[1], values.event, format, values.force === true);
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
      return await projectorCommand(
        positionals[0],
        { output: values.output, full: values.full, keep: values.keep, fromScratch: values["from-scratch"] },
        overrides,
      );
    case "stream":
      return await trimCommand(
        loadConfig(process.env, overrides),
        positionals[0],
        values["to-snapshot"] === true,
        values["dry-run"] === true,
      );
    case "archive":
      return await archive(target, { before: values.before, flow: values.flow, status: values.status }, values.out);
    case "purge":
      return await purge(
        target,
        { before: values.before, flow: values.flow, status: values.status },
        values["dry-run"] === true,
        format,
      );
    case "logs":
      return await logs(target, positionals[0], values.follow === true, values.attempt);
    case "cancel":
    case "retry":
      return await operateRun(target, command, positionals[0], format, values.reason);
    case "approve":
    case "reject":
      return await decideRun(target, command, positionals[0], format, values.comment);
    case "replay":
      if (values.type !== undefined || values.since !== undefined || values["dry-run"]) {
        const bulk = { dryRun: values["dry-run"] === true, format, concurrency: values.concurrency };
        return await bulkReplay(target, {
          ...bulk,
          type: values.type,
          since: values.since,
          until: values.until,
          flow: values.flow,
        });
      }
      return await replayEvent(target, positionals[0], values.wait, values.flow, format, values.reason);
    case "schedules":
      return await listSchedules(target, format);
    case "audit":
      return await listAudit(target, {
        action: values.action,
        actor: values.actor,
        flow: values.flow,
        run: values.run,
        event: values.event,
        since: values.since,
        until: values.until,
        limit: values.limit,
        json: format === "json",
      });
    case "pause":
    case "resume":
      return await pauseFlow(target, command, positionals[0], values.step, values.reason, format);
    case "sources":
      if (positionals[0] !== "github" || positionals[1] !== "redeliver")
        throw new UsageError(
          `sources ${positionals.join(" ")}: the one sources command is \`sources github redeliver\``,
        );
      return await redeliverGithub({
        repo: values.repo,
        hook: values.hook,
        since: values.since,
        dryRun: values["dry-run"] === true,
        apiUrl: values["api-url"],
        maxPages: values["max-pages"],
      });
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

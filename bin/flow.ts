#!/usr/bin/env bun
import { ConfigError, type Config } from "../lib/config.ts";
import { HintError } from "../lib/hint.ts";
import { parse, portFlag, UsageError } from "../cli/args.ts";
import { fireLocally, listFlows, runLocally } from "../cli/local.ts";
import { type ApiTarget, listRuns, operateRun, publish, replayEvent } from "../cli/client.ts";
import { logs } from "../cli/logs.ts";
import { projectorCommand } from "../cli/projector.ts";
import { dev, serve } from "../cli/serve.ts";

const HELP = `flow: codex-flows on NATS JetStream

Usage: bun run flow <command> [options]

Local (no NATS, as the original):
  list                              list the flows found under --cwd (.codex/flows first, then flows)
  fire --event FILE                 run every step whose trigger matches the event, here
  run FLOW STEP --event FILE        run one step for the event, here

System:
  dev [--example]                   everything on this machine: an embedded nats-server (unless NATS_URL
                                    is set), ingress, matcher, executor and projector in one process;
                                    --example also fires the example flow
  projector rebuild [--output FILE] the read model again from stream sequence 1, into FILE or swapped in
                                    for this host's (stop its projector and ingress first)
  serve <ingress|matcher|executor|projector|all>
                                    one service (or all four) as this process, against NATS_URL
                                    (default nats://127.0.0.1:4222)

Client (talks to a running ingress at --url, default CODEX_FLOW_URL or http://HOST:PORT):
  publish --event FILE [--wait none|matched|true]
                                    post the event (signed when CODEX_FLOW_BACKEND_SECRET is set)
  runs [--event ID] [--json]        the runs of an event, or the 20 newest
  logs RUN [-f]                     a run's output; -f follows it until the run ends
  cancel RUN                        cancel a queued or running run
  retry RUN                         start a new attempt of a run that ended
  replay EVENT [--wait matched|true]
                                    match a stored event again (new runs, marked as a replay)

Options:
  --cwd DIR      where flows are discovered (CODEX_FLOW_BACKEND_CWD, default: the current directory)
  --port N       the ingress port (CODEX_FLOW_BACKEND_PORT, default 7345)
  -h, --help     this help; configuration: docs/configuration.md
`;

const COMMON = { cwd: { type: "string" }, port: { type: "string" }, url: { type: "string" } } as const;

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
    example: { type: "boolean" },
    follow: { type: "boolean", short: "f" },
    output: { type: "string" },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const overrides: Partial<Config> = {
    ...(values.cwd ? { cwd: values.cwd } : {}),
    ...(values.port ? { port: portFlag(values.port) } : {}),
  };
  const cwd = overrides.cwd ?? process.env.CODEX_FLOW_BACKEND_CWD ?? process.cwd();
  const target: ApiTarget = {
    url: values.url ?? process.env.CODEX_FLOW_URL ?? `http://${process.env.CODEX_FLOW_BACKEND_HOST ?? "127.0.0.1"}:${overrides.port ?? process.env.CODEX_FLOW_BACKEND_PORT ?? 7345}`,
    secret: process.env.CODEX_FLOW_BACKEND_SECRET || undefined,
    token: process.env.CODEX_FLOW_BACKEND_TOKEN || undefined,
  };
  switch (command) {
    case "list":
      return listFlows(cwd);
    case "fire":
      return await fireLocally(cwd, values.event);
    case "run":
      return await runLocally(cwd, positionals[0], positionals[1], values.event);
    case "serve":
      await serve(positionals[0], overrides);
      return -1;
    case "dev":
      await dev(overrides, values.example === true);
      return -1;
    case "publish":
      return await publish(target, values.event, values.wait);
    case "runs":
      return await listRuns(target, values.event, values.json === true);
    case "projector":
      return await projectorCommand(positionals[0], values.output, overrides);
    case "logs":
      return await logs(target, positionals[0], values.follow === true);
    case "cancel":
    case "retry":
      return await operateRun(target, command, positionals[0]);
    case "replay":
      return await replayEvent(target, positionals[0], values.wait);
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
    process.exit(2);
  }
  if (error instanceof HintError) {
    console.error(`flow: ${error.message}`);
    process.exit(1);
  }
  console.error(`flow: ${(error as Error).stack ?? error}`);
  process.exit(1);
}

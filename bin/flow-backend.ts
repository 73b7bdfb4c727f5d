#!/usr/bin/env bun
// The original backend's one-host command (seed/flows.md): `bun run flow:backend serve --cwd DIR` runs every
// service against an existing NATS (NATS_URL, default nats://127.0.0.1:4222).
import { parse, portFlag, UsageError } from "../cli/args.ts";
import { serve } from "../cli/serve.ts";

const HELP = `flow:backend: every codex-flows service on this host, against NATS_URL

Usage: bun run flow:backend serve [--cwd DIR] [--port N] [--require-durable]
  Same as \`bun run flow serve all\`. Configuration: docs/configuration.md
  --require-durable   refuse to start on settings weaker than docs/durability.md documents
                      (CODEX_FLOW_REQUIRE_DURABLE=1)
`;

try {
  const [command, ...rest] = process.argv.slice(2);
  const { values } = parse(rest, {
    cwd: { type: "string" },
    port: { type: "string" },
    "require-durable": { type: "boolean" },
  });
  if (!command || values.help || command === "--help" || command === "-h") {
    console.log(HELP);
    process.exit(command ? 0 : 2);
  }
  if (command !== "serve") throw new UsageError(`unknown command "${command}": expected serve`);
  await serve("all", {
    ...(values.cwd ? { cwd: values.cwd } : {}),
    ...(values.port ? { port: portFlag(values.port) } : {}),
    ...(values["require-durable"] ? { requireDurable: true } : {}),
  });
} catch (error) {
  console.error(`flow:backend: ${(error as Error).message}`);
  process.exit(2);
}

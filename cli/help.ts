/** `flow --help` and `flow COMMAND --help`: every command with its usage and what it does. */
export const COMMANDS: Record<string, { usage: string; about: string; group: "local" | "system" | "client" }> = {
  list: {
    group: "local",
    usage: "list",
    about:
      "a table of the flows found under --cwd (.codex/flows and flows; on a name clash .codex/flows wins),\na row per step: trigger, schema, runner, script, schedules, paused (when an ingress answers at --url);\n--json: a flow a line; exits 1 when any flow or step did not load",
  },
  fire: {
    group: "local",
    usage: "fire --event FILE",
    about: "run every step whose trigger matches the event, here; exits 3 when none matched",
  },
  run: {
    group: "local",
    usage: "run FLOW STEP --event FILE [--force]",
    about:
      "run one step for the event, here; exits 3 saying why when its trigger does not take the event\n(--force: run it anyway); both check a result's next events as the system would (docs/cli.md)",
  },
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
    about:
      "remove the history the newest snapshot holds (and every durable consumer has acked) from the\nstream; pauses, held and debounced runs, schedule ticks stay; --dry-run: say what would go",
  },
  serve: {
    group: "system",
    usage: "serve <ingress|matcher|executor|projector|all> [--require-durable]",
    about:
      "one service (or all four) as this process, against NATS_URL (default nats://127.0.0.1:4222);\nwarns about (--require-durable: refuses) settings weaker than docs/durability.md documents",
  },
  publish: {
    group: "client",
    usage: "publish --event FILE [--wait none|matched|true]",
    about: "post the event (signed when CODEX_FLOW_BACKEND_SECRET is set)",
  },
  runs: {
    group: "client",
    usage: "runs [--event ID] [--flow F] [--step S] [--status S,..] [--host H] [--since T] [--until T] [--limit N]",
    about:
      "runs, newest first (an event's oldest first), the 20 newest unless --limit (at most 10000);\n--status: the STATUS column's statuses; --since/--until: an ISO time or 30m, 2h, 7d back",
  },
  events: {
    group: "client",
    usage: "events [--type T] [--source S] [--since T] [--until T] [--limit N]",
    about: "events, newest first (the 20 newest unless --limit)",
  },
  logs: {
    group: "client",
    usage: "logs RUN [-f] [--attempt N]",
    about:
      "a run's output, each attempt after a header line on stderr; --attempt N: only that attempt's;\n-f follows it until the run ends (reconnecting when the connection drops)",
  },
  cancel: {
    group: "client",
    usage: "cancel RUN [--reason TEXT]",
    about: "cancel a queued or running run (--reason: why, for the audit log)",
  },
  retry: {
    group: "client",
    usage: "retry RUN [--reason TEXT]",
    about: "start a new attempt of a run that ended (--reason: why, for the audit log)",
  },
  approve: {
    group: "client",
    usage: "approve RUN [--comment TEXT]",
    about:
      "approve a run that awaits approval: a gated step starts, a held result's next events start\n(--comment: kept with the decision and in the audit log)",
  },
  reject: {
    group: "client",
    usage: "reject RUN [--comment TEXT]",
    about: "reject a run that awaits approval: it ends rejected and what it held never starts",
  },
  replay: {
    group: "client",
    usage: "replay EVENT [--wait none|matched|true] [--flow F] [--reason TEXT]",
    about:
      "match a stored event again (new runs, marked as a replay); or in bulk:\nreplay --type T --since TIME [--until TIME] [--flow F] [--dry-run] [--concurrency N]\nper event, the steps that match now versus then; without --dry-run replays them,\nN at a time (default 4)",
  },
  archive: {
    group: "client",
    usage: "archive --before DATE [--flow F] [--status S] --out DIR",
    about:
      "write what a purge of the same selection would delete as gzip JSON Lines in DIR, read back\nand verified (line count, SHA-256)",
  },
  purge: {
    group: "client",
    usage: "purge --before DATE [--flow F] [--status S] [--dry-run]",
    about:
      "delete final runs created before DATE (with their events, attempts, output) through the\nstream, so every host's read model agrees; --dry-run: a table of runs and bytes per flow and\nstatus (--json: JSON Lines), the total on stderr",
  },
  audit: {
    group: "client",
    usage:
      "audit [--action A] [--actor NAME] [--flow F] [--run ID] [--event ID] [--since TIME] [--until TIME] [--limit N] [--json]",
    about:
      "the operator actions (cancel, retry, replay, bulk-replay, pause, resume, approve, reject,\npurge), newest first:\nwho (the token's name), when, on what and why; --action takes a comma-separated list; at most\n--limit records (default 50); --json: one JSON object a line",
  },
  schedules: { group: "client", usage: "schedules [--json]", about: "every schedule with its next and last tick" },
  pause: {
    group: "client",
    usage: "pause FLOW [--step STEP] [--reason TEXT]",
    about: "hold the flow's (or step's) matched runs until it is resumed",
  },
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
    .map(
      (c) =>
        `  ${c.usage.length < 34 ? c.usage.padEnd(34) : `${c.usage}\n${" ".repeat(36)}`}${c.about.replaceAll("\n", `\n${" ".repeat(36)}`)}`,
    )
    .join("\n");
}

export const HELP = `flow: codex-flows on NATS JetStream

Usage: bun run flow <command> [options]

Local (no NATS, as the original one-host backend):
${section("local")}

System:
${section("system")}

Client (talks to a running ingress at --url, default CODEX_FLOW_URL or http://HOST:PORT):
${section("client")}

Exit codes: 0 done, 1 failed (an API error, a failed step), 2 a usage mistake, 3 nothing matched (\`flow fire\`: no step; \`flow run\`: not that step) (docs/cli.md)

${OPTIONS}`;

/** One command's own help. */
export function commandHelp(name: string): string {
  const command = COMMANDS[name]!;
  return `Usage: bun run flow ${command.usage} [options]\n\n${command.about}\n\n${OPTIONS}`;
}

import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Config } from "../../lib/config.ts";
import { type Logger, logger } from "../../lib/log.ts";
import { connectNats, ensureStream } from "../../lib/nats/jetstream.ts";
import { type Subjects, subjects } from "../../lib/protocol/subjects.ts";

/** What every service needs: its configuration, a NATS connection, and the provisioned stream. */
export type ServiceContext = {
  config: Config;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  subjects: Subjects;
  log: Logger;
};

/**
 * How long a graceful stop may take before the process exits anyway: the executor's
 * grace for running steps, then up to 10 s to hand the rest back, plus a margin.
 * Keep a supervisor's stop timeout (systemd TimeoutStopSec) above it.
 */
export function forceStopAfterMs(config: Pick<Config, "shutdownGraceMs">): number {
  return config.shutdownGraceMs + 20_000;
}

/** A running service. */
export type Service = { name: string; stop(): Promise<void> };

/** Connects to `natsUrl` and makes sure the stream exists with our settings. */
export async function connectContext(config: Config, natsUrl: string, name: string): Promise<ServiceContext> {
  const log = logger(name);
  const nc = await connectNats(natsUrl, natsClientName(config, name), log);
  try {
    return await provisionedContext(config, nc, log);
  } catch (error) {
    await nc.close();
    throw error;
  }
}

/** The name a service's connection carries (nats server report connections). */
export function natsClientName(config: Pick<Config, "hostId">, name: string): string {
  return `codex-flows ${name} ${config.hostId}`;
}

/** A service's context on a connection it has: the stream is created or brought up to date first. */
export async function provisionedContext(config: Config, nc: NatsConnection, log: Logger): Promise<ServiceContext> {
  const jsm = await jetstreamManager(nc);
  await ensureStream(jsm, config);
  return { config, nc, js: jetstream(nc), jsm, subjects: subjects(config.subjectPrefix), log };
}

/**
 * Stops the services in order on SIGTERM or SIGINT (consumers and HTTP first, so no new
 * work is taken; in-flight work finishes up to each service's grace), drains the NATS
 * connection, and exits. Registered before anything starts: a signal that arrives while
 * the services are still starting stops them as soon as they are up. A second signal
 * (more than a second after the first), or `forceAfterMs`, exits at once. Call `ready` with the stop function once started.
 */
export function stopOnSignal(log: Logger, forceAfterMs = 30_000): { ready(stop: () => Promise<void>): void } {
  let stopping = false;
  let stop: (() => Promise<void>) | undefined;
  let requested: string | undefined;
  const run = (signal: string) => {
    log.info(`${signal}: shutting down`);
    setTimeout(() => {
      log.error(`shutdown took longer than ${forceAfterMs} ms: exiting`);
      process.exit(1);
    }, forceAfterMs).unref();
    stop!().then(
      () => process.exit(0),
      (error) => {
        log.error("shutdown failed", { error });
        process.exit(1);
      },
    );
  };
  let firstAt = 0;
  const handler = (signal: string) => {
    if (stopping) {
      // `bun run` forwards the terminal's Ctrl-C to a child that got it from the terminal
      // too: a repeat within a second is that echo, not a person insisting.
      if (Date.now() - firstAt < 1_000) return;
      log.warn(`second ${signal}: exiting now`);
      process.exit(130);
    }
    stopping = true;
    firstAt = Date.now();
    if (stop) run(signal);
    else requested = signal;
  };
  process.on("SIGTERM", () => handler("SIGTERM"));
  process.on("SIGINT", () => handler("SIGINT"));
  return {
    ready(fn) {
      stop = fn;
      if (requested) run(requested);
    },
  };
}

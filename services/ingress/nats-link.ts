import type { JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Config } from "../../lib/config.ts";
import { logger } from "../../lib/log.ts";
import { connectNats, redactUrl } from "../../lib/nats/jetstream.ts";
import { subjects } from "../../lib/protocol/subjects.ts";
import { natsClientName, provisionedContext, type ServiceContext } from "../runtime/context.ts";
import { jetStreamPublisher, type Publisher, type PublisherOptions, Unavailable } from "./publish.ts";

/**
 * The ingress's way to NATS: a context that is there from the start (startSystem's), or
 * one still being dialled (an ingress with a spool starts without NATS, see
 * services/ingress/alone.ts). Everything the ingress asks of NATS goes through it, so
 * before the first connection each such part answers "not yet" instead of waiting.
 */
export type NatsLink = Pick<ServiceContext, "config" | "subjects" | "log"> & {
  /** The connection with the stream provisioned, once there is one. */
  current(): ServiceContext | undefined;
  /** Resolves with the context once it is there (never, when the link stops first). */
  ready: Promise<ServiceContext>;
  /** Why there is no context yet: which NATS, since when, the last attempt's failure. */
  why(): string;
  /** The NATS URL (credentials removed), for /healthz before a server is connected. */
  url: string;
  /** Stops dialling and drains the connection, if any. */
  stop(): Promise<void>;
};

/** A link over a context that is connected already. */
export function linked(ctx: ServiceContext): NatsLink {
  return {
    config: ctx.config,
    subjects: ctx.subjects,
    log: ctx.log,
    url: ctx.nc.getServer(),
    current: () => ctx,
    ready: Promise.resolve(ctx),
    why: () => "connected",
    stop: async () => undefined,
  };
}

/**
 * Dials `natsUrl` until a connection is made (each failed dial is quick: connection
 * refused, or connectNats's 5 s timeout), then provisions the stream on it until that
 * succeeds, pausing `pauseMs` between attempts. Once connected, the client reconnects by
 * itself for good (connectNats). Not nats.js's `waitOnFirstConnect`: its connect cannot
 * be cancelled (a stopped ingress would go on dialling) and tells nothing of each failure.
 */
export function dialNats(config: Config, natsUrl: string, name: string, pauseMs = 1_000): NatsLink {
  const log = logger(name);
  const url = redactUrl(natsUrl);
  const since = new Date();
  let last = "not dialled yet";
  let ctx: ServiceContext | undefined;
  let nc: NatsConnection | undefined;
  let stopped = false;
  let wake: (() => void) | undefined;
  const pause = () =>
    new Promise<void>((resolve) => {
      wake = resolve;
      setTimeout(resolve, pauseMs);
    });
  const failed = (what: string, error: unknown) => {
    const message = `${what}${(error as Error).message}`;
    // Once per distinct failure: a minute of dialling is one line, not sixty.
    if (message !== last)
      log.warn(
        `${message}; ${nc ? "" : "the ingress runs without NATS meanwhile (events go to its spool); "}trying again every ${pauseMs} ms`,
      );
    last = message;
  };
  const ready = (async (): Promise<ServiceContext> => {
    while (!stopped && !nc) {
      try {
        const connected = await connectNats(natsUrl, natsClientName(config, name), log);
        // Stopped while it dialled: stop() had no connection to drain.
        if (stopped) await connected.close();
        else nc = connected;
      } catch (error) {
        failed("", error);
        await pause();
      }
    }
    while (!stopped && nc && !ctx) {
      try {
        ctx = await provisionedContext(config, nc, log);
      } catch (error) {
        failed(`connected to NATS at ${url}, but the stream ${config.stream} could not be checked: `, error);
        await pause();
      }
    }
    if (!ctx) return await new Promise<never>(() => undefined);
    log.info(`connected to NATS at ${url} and checked the stream ${config.stream}`, {
      waitedMs: Date.now() - since.getTime(),
    });
    return ctx;
  })();
  return {
    config,
    subjects: subjects(config.subjectPrefix),
    log,
    url,
    current: () => ctx,
    ready,
    why: () =>
      ctx ? "connected" : `no connection to NATS since this ingress started at ${since.toISOString()} (${last})`,
    async stop() {
      stopped = true;
      wake?.();
      await nc?.drain().catch(() => nc?.close());
    },
  };
}

/** The link's JetStream manager, or a 503 (Retry-After) that says why there is none yet. */
export function jsmOf(link: NatsLink): JetStreamManager {
  const ctx = link.current();
  if (!ctx) throw new Unavailable(`is unavailable (${link.why()})`);
  return ctx.jsm;
}

/** jetStreamPublisher over the link: before the first connection every write is Unavailable at once (the spool takes an event then). */
export function linkPublisher(link: NatsLink, options: PublisherOptions): Publisher {
  let publish: Publisher | undefined;
  return async (message, publishOptions) => {
    const ctx = link.current();
    if (!ctx) throw new Unavailable(`is unavailable (${link.why()})`);
    publish ??= jetStreamPublisher(ctx.nc, ctx.js, ctx.subjects, options);
    return await publish(message, publishOptions);
  };
}

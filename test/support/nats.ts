import { afterAll, beforeAll } from "bun:test";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { type Config, loadConfig } from "../../lib/config.ts";
import { ensureStream } from "../../lib/nats/jetstream.ts";
import { type EmbeddedNats, type EmbeddedNatsOptions, startNatsServer } from "../../lib/nats/nats-server.ts";
import { tempDir } from "./temp.ts";

/** The free-port probe and the current nats-server's path, for tests that start servers of their own. */
export { CURRENT_NATS_SERVER, freePort } from "../../lib/nats/nats-server.ts";

/**
 * Starts one real nats-server (JetStream, temporary store, free port) for the test file.
 * `cleanup` registers work (stopping services) that must run before the server stops.
 */
export function useNatsServer(options: EmbeddedNatsOptions = {}): {
  readonly url: string;
  readonly server: EmbeddedNats;
  cleanup(fn: () => Promise<unknown>): void;
} {
  let server: EmbeddedNats | undefined;
  const cleanups: (() => Promise<unknown>)[] = [];
  beforeAll(async () => {
    server = await startNatsServer(options);
  });
  afterAll(async () => {
    for (const fn of cleanups.reverse()) await fn().catch(() => undefined);
    await server?.stop();
  });
  return {
    cleanup: (fn) => void cleanups.push(fn),
    get url() {
      return server!.url;
    },
    get server() {
      return server!;
    },
  };
}

let counter = 0;

/**
 * A configuration for one test: a fresh stream and subject prefix (so tests sharing a
 * server never see each other's messages), a temporary data directory, port 0.
 */
export function testConfig(overrides: Partial<Config> = {}): Config {
  counter++;
  const id = `${process.pid}x${counter}`;
  return loadConfig(
    {},
    {
      stream: `T${id}`,
      subjectPrefix: `t${id}`,
      dataDir: tempDir("codex-flows-data-"),
      port: 0,
      hostId: "test-host",
      ackWaitMs: 5_000,
      ...overrides,
    },
  );
}

/** Polls `check` until it returns a value (not undefined/false) or `timeoutMs` passes. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 15_000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value as T;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(20);
  }
}

/**
 * A connection to the file's server (closed with it), its JetStream client and manager,
 * and a fresh stream of `testConfig(overrides)`'s: what a test of one consumer needs.
 */
export async function freshStream(nats: ReturnType<typeof useNatsServer>, overrides: Partial<Config> = {}) {
  const config = testConfig(overrides);
  const nc = await connect({ servers: nats.url });
  nats.cleanup(() => nc.close());
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  await ensureStream(jsm, config);
  return { config, nc, js, jsm };
}

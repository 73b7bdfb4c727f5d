import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";

/** A nats-server child process with JetStream, started on a free loopback port. */
export type EmbeddedNats = {
  url: string;
  port: number;
  storeDir: string;
  process: Subprocess;
  /** Stops the server; removes the store when it was a temporary one. */
  stop(): Promise<void>;
};

export type EmbeddedNatsOptions = {
  /** Where JetStream keeps its files; a temporary directory (removed on stop) when absent. */
  storeDir?: string;
  /** A fixed port; a free one when absent. */
  port?: number;
  /** The server binary; `NATS_SERVER_BIN` or `nats-server` on PATH (or /usr/sbin) when absent. */
  binary?: string;
  /** The server's max_payload in bytes (nats-server's default, 1 MiB, when absent). */
  maxPayload?: number;
  /** The address it listens on; 127.0.0.1 when absent. */
  host?: string;
  /** More command-line arguments (a cluster's routes, a server name). */
  args?: string[];
  /** A soft limit on the server's Go heap (GOMEMLIMIT, MiB): Go collects and returns memory sooner near it. */
  memoryLimitMiB?: number;
};

/** Asks the kernel for a free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Finds the nats-server binary: the explicit one, `NATS_SERVER_BIN` (CI's second run sets
 * it to a current release), PATH, then Debian's /usr/sbin.
 */
export function natsServerBinary(explicit?: string): string {
  const found = explicit ?? process.env.NATS_SERVER_BIN ?? Bun.which("nats-server") ?? Bun.which("nats-server", { PATH: "/usr/sbin:/usr/local/sbin" });
  if (!found) {
    throw new Error("nats-server not found: install it (Debian: apt-get install nats-server) or set NATS_SERVER_BIN or NATS_URL");
  }
  return found;
}

/** Starts nats-server with JetStream and waits until it accepts connections. */
export async function startNatsServer(options: EmbeddedNatsOptions = {}): Promise<EmbeddedNats> {
  const temporary = options.storeDir === undefined;
  const storeDir = options.storeDir ?? mkdtempSync(join(tmpdir(), "codex-flows-nats-"));
  const binary = natsServerBinary(options.binary);
  const host = options.host ?? "127.0.0.1";
  for (let tries = 0; ; tries++) {
    const port = options.port ?? (await freePort());
    const child = Bun.spawn([binary, "-a", host, "-p", String(port), "-js", "-sd", storeDir, ...configArgs(storeDir, options), ...(options.args ?? [])], {
      stdout: "ignore",
      stderr: "pipe",
      ...(options.memoryLimitMiB ? { env: { ...process.env, GOMEMLIMIT: `${options.memoryLimitMiB}MiB` } } : {}),
    });
    const ready = await waitForPort(host, port, child, 10_000);
    if (ready === "ready") {
      const stop = async () => {
        child.kill("SIGTERM");
        const exited = await Promise.race([child.exited.then(() => true), Bun.sleep(5_000).then(() => false)]);
        if (!exited) child.kill("SIGKILL");
        await child.exited;
        if (temporary) rmSync(storeDir, { recursive: true, force: true });
      };
      return { url: `nats://${host}:${port}`, port, storeDir, process: child, stop };
    }
    child.kill("SIGKILL");
    const stderr = await new Response(child.stderr as ReadableStream).text();
    // Another process may have taken the free port between our probe and the server's bind.
    if (options.port === undefined && tries < 3 && /address already in use/i.test(stderr)) continue;
    if (temporary) rmSync(storeDir, { recursive: true, force: true });
    throw new Error(`nats-server did not start on port ${port}: ${stderr.trim().slice(-2000) || ready}`);
  }
}

/** Settings without a command-line flag go in a config file beside the store. */
function configArgs(storeDir: string, options: EmbeddedNatsOptions): string[] {
  if (options.maxPayload === undefined) return [];
  const file = join(storeDir, "server.conf");
  writeFileSync(file, `max_payload: ${options.maxPayload}\n`);
  return ["-c", file];
}

async function waitForPort(hostname: string, port: number, child: Subprocess, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) return `exited with code ${child.exitCode}`;
    try {
      const socket = await Bun.connect({ hostname, port, socket: { data() {} } });
      socket.end();
      return "ready";
    } catch {
      await Bun.sleep(20);
    }
  }
  return `no answer within ${timeoutMs} ms`;
}

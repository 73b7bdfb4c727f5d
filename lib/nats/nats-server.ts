import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { withoutWithheld } from "../runners/step-env.ts";

/** A nats-server child process with JetStream, started on a free loopback port (or the given address). */
export type EmbeddedNats = {
  url: string;
  port: number;
  /** Its monitoring address (http://host:port, serving /varz), when started with `monitor`. */
  monitorUrl?: string;
  storeDir: string;
  /** The watchdog shell that started the server (it exits with the server). */
  process: Subprocess;
  /** The nats-server process itself. */
  pid: number;
  /** Sends the server a signal (SIGKILL: a crash) and waits until it is gone; the store stays. */
  kill(signal: NodeJS.Signals): Promise<void>;
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
  /**
   * Require this user and password (written to a 0600 config file beside the store, never
   * on the command line where `ps` shows it); `url` then carries them.
   */
  auth?: { user: string; password: string };
  /** The server's max_payload in bytes (nats-server's default, 1 MiB, when absent). */
  maxPayload?: number;
  /** The address it listens on; 127.0.0.1 when absent. */
  host?: string;
  /** More command-line arguments (a cluster's routes, a server name). */
  args?: string[];
  /** Fsync before every acknowledgement: `jetstream { sync_interval: always }` (nats-server 2.10+; 2.9.10 refuses it). */
  syncAlways?: boolean;
  /** Serve the monitoring endpoints (/varz) on a free port of the same address. */
  monitor?: boolean;
  /** A soft limit on the server's Go heap (GOMEMLIMIT, MiB): Go collects and returns memory sooner near it. */
  memoryLimitMiB?: number;
};

/**
 * A watchdog shell between us and nats-server: it starts the server (arguments from the
 * environment, one per line, so only the server's own command line shows them), prints
 * its pid, and ends it when its stdin (a pipe only we hold) closes: when we stop it, or
 * when this process dies, even by SIGKILL. PR_SET_PDEATHSIG would do the same in one
 * call, but it is not honoured everywhere (some sandboxes), and a pipe always closes.
 */
const WATCHDOG = `IFS='
'
set -f
set -- $CODEX_FLOWS_NATS_ARGV
exec 3<&0
"$@" </dev/null 3<&- &
pid=$!
echo "$pid"
{ cat <&3 >/dev/null; kill -TERM "$pid" 2>/dev/null; } &
wait "$pid"`;

/** Runs the server under the watchdog, in its own session (a terminal's Ctrl-C reaches only us, and we stop it last). */
function spawnGuarded(argv: string[], env: Record<string, string> = {}) {
  if (argv.some((arg) => arg.includes("\n")))
    throw new Error(`nats-server arguments cannot contain a newline: ${JSON.stringify(argv)}`);
  // Without the secrets (lib/runners/step-env.ts): nats-server reads none, and its /proc/PID/environ is open to every process of its user, steps among them.
  return Bun.spawn(["sh", "-c", WATCHDOG], {
    env: { ...withoutWithheld(process.env), ...env, CODEX_FLOWS_NATS_ARGV: argv.join("\n") },
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
    detached: true,
  });
}

/** The server's pid, the first line the watchdog prints. */
async function serverPid(child: ReturnType<typeof spawnGuarded>): Promise<number> {
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return Number(text.trim().split("\n")[0]);
}

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

/** Finds the nats-server binary: the explicit one, `NATS_SERVER_BIN`, PATH, then Debian's /usr/sbin. */
export function natsServerBinary(explicit?: string): string {
  const found =
    explicit ??
    process.env.NATS_SERVER_BIN ??
    Bun.which("nats-server") ??
    Bun.which("nats-server", { PATH: "/usr/sbin:/usr/local/sbin" });
  if (!found) {
    throw new Error(
      "nats-server not found: install it (Debian: apt-get install nats-server) or set NATS_SERVER_BIN or NATS_URL",
    );
  }
  return found;
}

/** Where scripts/install-nats-server-current.sh (and -pypi.sh) put a current nats-server. */
export const CURRENT_NATS_SERVER = `${process.env.CODEX_FLOW_NATS_SERVER_CURRENT_DIR || "/usr/local/lib/codex-flows/nats-server-current"}/nats-server`;

/** `flow dev`'s server: NATS_SERVER_BIN, else a current one at CURRENT_NATS_SERVER, else nats-server on PATH (Debian's 2.9.10). */
export function devNatsServerBinary(): string {
  if (process.env.NATS_SERVER_BIN) return process.env.NATS_SERVER_BIN;
  return existsSync(CURRENT_NATS_SERVER) ? CURRENT_NATS_SERVER : natsServerBinary();
}

/** The binary's version ("2.9.10"), from `nats-server --version`; "unknown" when it does not say. */
export function natsServerVersion(binary: string): string {
  const out = Bun.spawnSync([binary, "--version"], { stdout: "pipe", stderr: "pipe" }).stdout.toString().trim();
  return /v?(\d+\.\d+\.\d+\S*)/.exec(out)?.[1] ?? "unknown";
}

/** Starts nats-server with JetStream and waits until it accepts connections. */
export async function startNatsServer(options: EmbeddedNatsOptions = {}): Promise<EmbeddedNats> {
  const temporary = options.storeDir === undefined;
  const storeDir = options.storeDir ?? mkdtempSync(join(tmpdir(), "codex-flows-nats-"));
  const binary = natsServerBinary(options.binary);
  const host = options.host ?? "127.0.0.1";
  const config = configArgs(storeDir, options);
  for (let tries = 0; ; tries++) {
    const port = options.port ?? (await freePort());
    const monitorPort = options.monitor ? await freePort() : undefined;
    const monitorArgs = monitorPort === undefined ? [] : ["-m", String(monitorPort)];
    const child = spawnGuarded(
      [
        binary,
        ...config,
        "-a",
        host,
        "-p",
        String(port),
        ...monitorArgs,
        "-js",
        "-sd",
        storeDir,
        ...(options.args ?? []),
      ],
      options.memoryLimitMiB ? { GOMEMLIMIT: `${options.memoryLimitMiB}MiB` } : {},
    );
    const pid = await serverPid(child);
    const ready = await waitForPort(host, port, child, 10_000);
    const kill = (signal: NodeJS.Signals) => {
      try {
        process.kill(pid, signal);
      } catch {
        // Already gone.
      }
    };
    if (ready === "ready") {
      const stop = async () => {
        kill("SIGTERM");
        const exited = await Promise.race([child.exited.then(() => true), Bun.sleep(5_000).then(() => false)]);
        if (!exited) kill("SIGKILL");
        await child.exited;
        // Closing the pipe ends the watchdog's reader too.
        void child.stdin.end();
        if (temporary) rmSync(storeDir, { recursive: true, force: true });
        if (temporary && config.length > 0) rmSync(config[1]!, { force: true });
      };
      const credentials = options.auth
        ? `${encodeURIComponent(options.auth.user)}:${encodeURIComponent(options.auth.password)}@`
        : "";
      const killAndWait = async (signal: NodeJS.Signals) => {
        kill(signal);
        await child.exited;
        void child.stdin.end();
      };
      const monitorUrl = monitorPort === undefined ? {} : { monitorUrl: `http://${host}:${monitorPort}` };
      return {
        url: `nats://${credentials}${host}:${port}`,
        port,
        ...monitorUrl,
        storeDir,
        process: child,
        pid,
        kill: killAndWait,
        stop,
      };
    }
    kill("SIGKILL");
    void child.stdin.end();
    const stderr = await new Response(child.stderr as ReadableStream).text();
    // Another process may have taken the free port between our probe and the server's bind.
    if (
      (options.port === undefined || monitorPort !== undefined) &&
      tries < 3 &&
      /address already in use/i.test(stderr)
    )
      continue;
    if (temporary) rmSync(storeDir, { recursive: true, force: true });
    throw new Error(`nats-server did not start on port ${port}: ${stderr.trim().slice(-2000) || ready}`);
  }
}

/**
 * Settings without a command-line flag (max_payload) and the user and password go in a
 * config file beside the store, readable by this user alone (never on the command line,
 * where `ps` shows it).
 */
function configArgs(storeDir: string, options: EmbeddedNatsOptions): string[] {
  const lines: string[] = [];
  if (options.maxPayload !== undefined) lines.push(`max_payload: ${options.maxPayload}`);
  if (options.syncAlways) lines.push("jetstream {\n  sync_interval: always\n}");
  if (options.auth)
    lines.push(
      `authorization {\n  user: ${JSON.stringify(options.auth.user)}\n  password: ${JSON.stringify(options.auth.password)}\n}`,
    );
  if (lines.length === 0) return [];
  mkdirSync(storeDir, { recursive: true });
  const path = `${storeDir}.conf`;
  rmSync(path, { force: true });
  writeFileSync(path, `${lines.join("\n")}\n`, { mode: 0o600 });
  return ["-c", path];
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

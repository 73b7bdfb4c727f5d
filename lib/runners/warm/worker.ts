import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { escapedProcesses, stepStart } from "../escapees.ts";
import { LAUNCH_MARKER_ENV } from "../launch.ts";
import type { StepOutput, Stream } from "../output.ts";
import { signalGroup } from "../signals.ts";
import { type Stoppable, stoppable } from "../stops.ts";
import { RunMarks } from "./marks.ts";

/** The program a warm worker runs. */
export const WARM_ENTRY = join(import.meta.dir, "entry.ts");
/** After a worker exits and its group is killed, its pipes close at once unless an escaped process holds them. */
const DRAIN_AFTER_EXIT_MS = 2000;
/** Most processes followed when ending what a run left behind in its worker. */
const LEFTOVERS_MAX = 1000;
const PAGE_BYTES = 4096;

/** What one run sends its worker (a JSON line of entry.ts). */
export type RunFrame = { context: unknown; env: Record<string, string>; cwd: string };
/** How a run on a worker ended: its marks (the code it reported), or the worker's exit while it served it. */
export type Served =
  | { kind: "marked"; code: number }
  | { kind: "exited"; exitCode: number | null; signal: string | null };

type Current = {
  output: StepOutput;
  decoders: Record<Stream, TextDecoder | undefined>;
  marked: Set<Stream>;
  code: number;
  done(served: Served): void;
};

/**
 * One long-lived Bun process serving runs of one module-style step, one at a time: in
 * its own process group like a spawned step, with a launch marker of its own (so what
 * escapes its group is found as for a spawned step), its stdout and stderr cut per run
 * at the marks entry.ts writes. A stop of the run it serves ends the worker.
 */
export class WarmWorker {
  readonly child: Bun.Subprocess<"pipe", "pipe", "pipe">;
  readonly pid: number;
  runs = 0;
  /** While idle in its pool: ends it after WARM_IDLE_MS (pool.ts). */
  idleTimer: Timer | undefined;
  #current: Current | undefined;
  /** Set once its exit has been handled: a run handed to it then ends at once. */
  #gone: Served | undefined;
  #drained: Promise<unknown>;
  readonly #marker: Record<string, string>;
  readonly #started: ReturnType<typeof stepStart>;

  constructor(scriptPath: string, env: Record<string, string>, cwd: string) {
    const nonce = crypto.randomUUID();
    this.#marker = { [LAUNCH_MARKER_ENV]: crypto.randomUUID() };
    // `detached` calls setsid(): the worker leads a process group of its own. Throws when it cannot start.
    this.child = Bun.spawn([process.execPath, WARM_ENTRY, scriptPath, nonce], {
      cwd,
      env: { ...env, ...this.#marker },
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
      detached: true,
    });
    this.pid = this.child.pid;
    this.#started = stepStart(this.pid);
    this.#drained = Promise.all([
      this.#pump(this.child.stdout, "stdout", nonce),
      this.#pump(this.child.stderr, "stderr", nonce),
    ]);
    void this.child.exited.then(() => this.#exited());
  }

  /** True while the worker process runs. */
  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resident memory, in MB (0 once it is gone). */
  rssMb(): number {
    try {
      return (Number(readFileSync(`/proc/${this.pid}/statm`, "utf8").split(" ")[1]) * PAGE_BYTES) / (1024 * 1024);
    } catch {
      return 0;
    }
  }

  /** Serves one run: its output goes to `output` until its marks, or the worker's exit. */
  serve(frame: RunFrame, output: StepOutput): Promise<Served> {
    if (this.#current) throw new Error(`warm worker ${this.pid} is serving a run already`);
    if (this.#gone) return Promise.resolve(this.#gone);
    this.runs++;
    return new Promise<Served>((resolve) => {
      this.#current = {
        output,
        decoders: { stdout: output.decoder(), stderr: output.decoder() },
        marked: new Set(),
        code: 0,
        done: resolve,
      };
      try {
        this.child.stdin.write(`${JSON.stringify({ ...frame, env: { ...frame.env, ...this.#marker } })}\n`);
        void Promise.resolve(this.child.stdin.flush()).catch(() => undefined); // a worker that died is its exit's to report
      } catch {
        // Its stdin is closed: it is exiting, and its exit ends the run.
      }
    });
  }

  /** The stops of the run it serves: graceful (SIGTERM to its group, SIGKILL after `graceMs`) or at once; either ends the worker. */
  stops(graceMs: number): Stoppable {
    let killTimer: Timer | undefined;
    void this.child.exited.then(() => clearTimeout(killTimer));
    return stoppable(this.child, {
      graceful: () => {
        signalGroup(this.pid, "SIGTERM");
        killTimer = setTimeout(() => signalGroup(this.pid, "SIGKILL"), graceMs);
      },
      now: () => signalGroup(this.pid, "SIGKILL"),
    });
  }

  /** Ends the processes the last run started that are still running (its children and theirs), leaving the worker. */
  endLeftovers(): void {
    for (const pid of descendants(this.pid)) signalProcess(pid, "SIGKILL");
  }

  /** Retires an idle worker: its stdin closes and it exits; SIGKILL to its group after `graceMs` if it does not. */
  retire(graceMs: number): Promise<void> {
    try {
      void this.child.stdin.end();
    } catch {
      // Closed already.
    }
    const timer = setTimeout(() => signalGroup(this.pid, "SIGKILL"), graceMs);
    return this.child.exited.then(() => clearTimeout(timer));
  }

  async #pump(stream: ReadableStream<Uint8Array>, name: Stream, nonce: string): Promise<void> {
    const marks = new RunMarks(nonce);
    const out = (bytes: Uint8Array) => {
      const current = this.#current;
      // Output between runs (a timer the last run left) belongs to no run and is dropped.
      if (current && !current.marked.has(name)) current.output.push(name, bytes, current.decoders[name]);
    };
    const end = (code: number) => {
      const current = this.#current;
      if (!current || current.marked.has(name)) return;
      current.output.end(name, current.decoders[name]);
      current.marked.add(name);
      current.code = Math.max(current.code, code);
      if (current.marked.size === 2) this.#finish({ kind: "marked", code: current.code });
    };
    try {
      for await (const chunk of stream) marks.push(chunk, out, end);
    } catch {
      // The pipe broke: the worker's exit ends the run.
    }
    marks.flush(out);
  }

  /** The worker exited: the run it served ends once its pipes drained, and what it left of its group is killed. */
  async #exited(): Promise<void> {
    const escaped = escapedProcesses(this.pid, this.#marker, this.#started);
    signalGroup(this.pid, "SIGKILL");
    for (const pid of escaped) signalProcess(pid, "SIGKILL");
    let timer: Timer | undefined;
    await Promise.race([this.#drained, new Promise((resolve) => (timer = setTimeout(resolve, DRAIN_AFTER_EXIT_MS)))]);
    clearTimeout(timer);
    const current = this.#current;
    if (current)
      for (const name of ["stdout", "stderr"] as const)
        if (!current.marked.has(name)) current.output.end(name, current.decoders[name]);
    this.#gone = {
      kind: "exited",
      exitCode: this.child.exitCode,
      signal: this.child.signalCode === null ? null : String(this.child.signalCode),
    };
    this.#finish(this.#gone);
  }

  #finish(served: Served): void {
    const current = this.#current;
    this.#current = undefined;
    current?.done(served);
  }
}

/**
 * The processes below the worker `pid` (children, theirs, ...), read from /proc's
 * per-thread children lists: the worker's main thread only (Bun starts processes from its
 * JavaScript thread; one read a run), every thread of the processes below it. Bounded.
 */
function descendants(pid: number): number[] {
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0 && found.length < LEFTOVERS_MAX) {
    const parent = queue.shift()!;
    let tasks: string[];
    try {
      tasks = parent === pid ? [String(pid)] : readdirSync(`/proc/${parent}/task`);
    } catch {
      continue; // gone
    }
    for (const task of tasks) {
      let children: string;
      try {
        children = readFileSync(`/proc/${parent}/task/${task}/children`, "utf8");
      } catch {
        continue;
      }
      for (const child of children.split(" ")) {
        if (child === "") continue;
        found.push(Number(child));
        queue.push(Number(child));
      }
    }
  }
  return found;
}

function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}

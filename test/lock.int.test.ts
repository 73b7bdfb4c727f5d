import { expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { tempDir } from "./support/temp.ts";

const LOCK = resolve(import.meta.dir, "../lib/lock.ts");

/**
 * A contender process: on `go <epoch ms>` it waits for that instant, tries the lock and
 * answers `won` or `refused <message>`; on `release` it lets go of a lock it won.
 */
const CONTENDER = `
const { lockDataDir } = await import(${JSON.stringify(LOCK)});
const dir = process.env.LOCK_DIR;
let held;
let rest = "";
for await (const bytes of Bun.stdin.stream()) {
  const lines = (rest + new TextDecoder().decode(bytes)).split("\\n");
  rest = lines.pop();
  for (const line of lines) {
    const [word, at] = line.split(" ");
    if (word === "go") {
      while (Date.now() < Number(at));
      try {
        held = lockDataDir(dir, "projector", "contender");
        console.log("won");
      } catch (error) {
        console.log("refused " + error.message);
      }
    } else if (word === "release") {
      held?.release();
      held = undefined;
      console.log("released");
    }
  }
}`;

type Contender = {
  child: Bun.Subprocess<"pipe", "pipe", "inherit">;
  next(): Promise<string>;
  send(line: string): void;
};

function contender(dir: string): Contender {
  const child = Bun.spawn([process.execPath, "-e", CONTENDER], {
    env: { ...process.env, LOCK_DIR: dir },
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
  });
  const reader = child.stdout.getReader();
  const lines: string[] = [];
  let rest = "";
  return {
    child,
    async next() {
      while (lines.length === 0) {
        const { value, done } = await reader.read();
        if (done) throw new Error("the contender ended");
        const parts = (rest + new TextDecoder().decode(value)).split("\n");
        rest = parts.pop()!;
        lines.push(...parts);
      }
      return lines.shift()!;
    },
    send(line) {
      child.stdin.write(`${line}\n`);
      void child.stdin.flush();
    },
  };
}

/** A pid that no process has: one that just ended. */
async function deadPid(): Promise<number> {
  const gone = Bun.spawn(["true"]);
  await gone.exited;
  return gone.pid;
}

test("given a stale lock (its holder died), when two processes race to take it over, then exactly one wins every round and the other is refused naming the winner's pid", async () => {
  const dir = tempDir("lock-race-");
  const path = join(dir, "projector.lock");
  const [a, b] = [contender(dir), contender(dir)];
  try {
    const dead = await deadPid();
    let doubles = 0;
    const rounds = 60;
    for (let round = 0; round < rounds; round++) {
      writeFileSync(
        path,
        `${JSON.stringify({ pid: dead, host: hostname(), command: "died", since: new Date().toISOString() })}\n`,
      );
      const at = Date.now() + 30;
      a.send(`go ${at}`);
      b.send(`go ${at}`);
      const answers = [await a.next(), await b.next()];
      const winners = [a, b].filter((_, i) => answers[i] === "won");
      if (winners.length !== 1) {
        doubles++;
      } else {
        const winner = winners[0]!;
        const refused = answers.find((answer) => answer !== "won")!;
        expect(refused).toContain(`in use by pid ${winner.child.pid}`);
        expect(JSON.parse(readFileSync(path, "utf8")).pid).toBe(winner.child.pid);
      }
      for (const c of [a, b]) {
        c.send("release");
        expect(await c.next()).toBe("released");
      }
    }
    expect({ doubles, rounds }).toEqual({ doubles: 0, rounds });
  } finally {
    a.child.kill("SIGKILL");
    b.child.kill("SIGKILL");
  }
}, 60_000);

test("given a lock holder killed with SIGKILL, then the lock is free at once for the next process, and a live holder is refused by pid", async () => {
  const dir = tempDir("lock-death-");
  const [a, b] = [contender(dir), contender(dir)];
  try {
    a.send(`go ${Date.now()}`);
    expect(await a.next()).toBe("won");
    b.send(`go ${Date.now()}`);
    expect(await b.next()).toContain(`refused ${dir} is in use by pid ${a.child.pid}`);
    a.child.kill("SIGKILL");
    await a.child.exited;
    b.send(`go ${Date.now()}`);
    expect(await b.next()).toBe("won");
  } finally {
    a.child.kill("SIGKILL");
    b.child.kill("SIGKILL");
  }
}, 30_000);

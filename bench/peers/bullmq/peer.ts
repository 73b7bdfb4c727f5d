/**
 * The BullMQ peer, in its own process: a Worker (concurrency STEP_SLOTS) whose processor
 * spawns the trivial step the way the bun runner does, and a producer in the same process
 * that adds a job and waits for it through QueueEvents (job.waitUntilFinished), the
 * peer rows' workload (../workload.ts). BullMQ's defaults otherwise (completed jobs kept,
 * one attempt). The CPU per phase is this process's own plus redis-server's
 * (REDIS_PID), children excluded. Prints a PeerReport on stdout.
 *
 * bullmq is a bench-only dependency (package.json and bun.lock beside this file, installed
 * by bench/peers.ts), so it is imported by name at run time and typed here by the little
 * the bench uses: the project's typecheck does not need it installed.
 */
import { cpuMs } from "../../procs.ts";
import { spawnStep, stepInput } from "../step.ts";
import { IN_FLIGHT, rssMb, runWorkload, STEP_SLOTS } from "../workload.ts";

type Connection = { host: string; port: number; maxRetriesPerRequest: null };
type Job = { data: { id: string }; waitUntilFinished(events: QueueEvents, ttl?: number): Promise<unknown> };
type Closable = { close(): Promise<void>; waitUntilReady(): Promise<unknown>; setMaxListeners(n: number): unknown };
type QueueEvents = Closable;
type BullMq = {
  Queue: new (name: string, opts: { connection: Connection }) => Closable & { add(name: string, data: { id: string }): Promise<Job> };
  Worker: new (name: string, processor: (job: Job) => Promise<void>, opts: { connection: Connection; concurrency: number }) => Closable;
  QueueEvents: new (name: string, opts: { connection: Connection }) => QueueEvents;
};

const port = Number(process.env.REDIS_PORT);
const redisPid = Number(process.env.REDIS_PID);
if (!(port > 0) || !(redisPid > 0)) throw new Error("REDIS_PORT and REDIS_PID must be set (bench/peers.ts starts redis-server)");
const log = (line: string) => console.error(`bench: bullmq: ${line}`);

const packageName = "bullmq";
const { Queue, Worker, QueueEvents } = (await import(packageName)) as BullMq;
const connection: Connection = { host: "127.0.0.1", port, maxRetriesPerRequest: null };
const name = "bench";
const queue = new Queue(name, { connection });
const events = new QueueEvents(name, { connection });
const worker = new Worker(name, (job) => spawnStep(stepInput(job.data.id)), { connection, concurrency: STEP_SLOTS });
// Each job waiting for its end listens on both: IN_FLIGHT of them is expected, not a leak.
for (const emitter of [queue, events]) emitter.setMaxListeners(2 * IN_FLIGHT);
await Promise.all([queue.waitUntilReady(), events.waitUntilReady(), worker.waitUntilReady()]);

await Bun.sleep(3_000);
const idle = [rssMb(process.pid), rssMb(redisPid)].filter((x) => x !== undefined);
const idleRssMb = idle.reduce((sum, x) => sum + x.mb, 0);
const byProcessIdle = Object.fromEntries(idle.map((x) => [x.name, Math.round(x.mb * 10) / 10]));
log(`up, idle ${Math.round(idleRssMb)} MB (${JSON.stringify(byProcessIdle)})`);

let n = 0;
const job = async () => {
  const added = await queue.add("trivial", { id: `bullmq-${n++}` });
  await added.waitUntilFinished(events, 120_000);
};
const cpu = () => (cpuMs(process.pid) ?? Number.NaN) + (cpuMs(redisPid) ?? Number.NaN);
const report = await runWorkload(job, cpu, log);
await worker.close();
await Promise.all([events.close(), queue.close()]);
process.stdout.write(JSON.stringify({ ...report, idleRssMb, byProcessIdle }));

/**
 * Bare spawns, in its own process: the peer rows' workload (workload.ts) with no
 * orchestration at all, the trivial step spawned at most STEP_SLOTS at a time by this
 * process. Its CPU is this process's own (the steps' is excluded). Prints a PeerReport.
 */
import { cpuMs } from "../procs.ts";
import { spawnStep, stepInput } from "./step.ts";
import { runWorkload, STEP_SLOTS, slots } from "./workload.ts";

const slot = slots(STEP_SLOTS);
let n = 0;
const job = () => slot(() => spawnStep(stepInput(`bare-${n++}`)));
const report = await runWorkload(
  job,
  () => cpuMs(process.pid) ?? Number.NaN,
  (line) => console.error(`bench: bare spawns: ${line}`),
);
process.stdout.write(JSON.stringify(report));

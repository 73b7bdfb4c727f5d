/**
 * Reads a CPU profile (`bun --cpu-prof`, Chrome's .cpuprofile format) and sums self time
 * by function (name, file, line) and by file, over the samples inside an optional time
 * window (the profile's own clock, microseconds). A native function (Bun.spawn,
 * readFileSync, a socket write) has no file: its time is named with, and charged to the
 * file of, the nearest caller that has one. The sampler takes a sample every interval
 * whether the thread ran or waited for a core, so on a busy machine the times are the
 * thread's busy wall time: read the shares.
 */
import { readFileSync } from "node:fs";

type CallFrame = { functionName: string; url: string; lineNumber: number };
type ProfileNode = { id: number; callFrame: CallFrame; children?: number[] };
export type CpuProfile = {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
};
export type SelfTime = { name: string; ms: number; share: number };
/** byOwnCode: each sample charged to the nearest frame in the project's own files (not node_modules, bun:, node:), by function. */
export type ProfileSummary = { sampledMs: number; byFunction: SelfTime[]; byFile: SelfTime[]; byOwnCode: SelfTime[] };

export function readProfile(file: string): CpuProfile {
  return JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
}

/** `url` relative to the project (node_modules and Bun's own modules by package or name). */
function shortFile(url: string, root: string): string {
  if (url === "") return "(native)";
  const path = url.replace(/^file:\/\//, "");
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (modules) return `node_modules/${modules[1]}`;
  return path.startsWith(root) ? path.slice(root.length + 1) : path;
}

/** Self time (ms) by function and by file of the samples taken in [from, to) (µs on the profile's clock; all when absent). */
export function summarizeProfile(profile: CpuProfile, root: string, from = -Infinity, to = Infinity): ProfileSummary {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  /** The nearest frame at or above `id` that `fits`. */
  const nearest = (id: number, fits: (frame: CallFrame) => boolean): CallFrame | undefined => {
    for (let at: number | undefined = id; at !== undefined; at = parents.get(at)) {
      const frame = nodes.get(at)?.callFrame;
      if (frame && fits(frame)) return frame;
    }
    return undefined;
  };
  const caller = (id: number) => nearest(id, (frame) => frame.url !== "");
  const ownCode = (id: number) =>
    nearest(
      id,
      (frame) => frame.url.replace(/^file:\/\//, "").startsWith(root) && !frame.url.includes("/node_modules/"),
    );
  const label = (frame: CallFrame) =>
    `${frame.functionName || "(anonymous)"} ${shortFile(frame.url, root)}:${frame.lineNumber + 1}`;
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  const byOwnCode = new Map<string, number>();
  let at = profile.startTime;
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at < from || at >= to) continue;
    // A sample stands for the time up to the next one.
    const ms = (profile.timeDeltas[i + 1] ?? delta) / 1000;
    const id = profile.samples[i]!;
    const frame = nodes.get(id)?.callFrame;
    if (!frame || frame.functionName === "(idle)") continue;
    const owner = frame.url ? frame : caller(id);
    const name = frame.url
      ? label(frame)
      : `${frame.functionName || "(native)"} (native) in ${owner ? label(owner) : "?"}`;
    const file = owner ? shortFile(owner.url, root) : "(native, no caller)";
    byFunction.set(name, (byFunction.get(name) ?? 0) + ms);
    byFile.set(file, (byFile.get(file) ?? 0) + ms);
    const own = ownCode(id);
    const ownName = own ? label(own) : "(outside our code: timers, sockets, GC, nats.js deliveries)";
    byOwnCode.set(ownName, (byOwnCode.get(ownName) ?? 0) + ms);
    total += ms;
  }
  const ranked = (map: Map<string, number>) =>
    [...map].map(([name, ms]) => ({ name, ms, share: ms / total })).sort((a, b) => b.ms - a.ms);
  return { sampledMs: total, byFunction: ranked(byFunction), byFile: ranked(byFile), byOwnCode: ranked(byOwnCode) };
}

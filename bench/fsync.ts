/**
 * Row fsync (opt-in): what `sync_interval: always` (docs/durability.md) costs the ingress.
 * Row 2's load (`flow serve ingress`, 16 connections, ?wait=none) against a current
 * nats-server on its default interval, then against the same binary fsyncing before every
 * acknowledgement; each server fresh, its store on the bench's temporary directory.
 */
import { tmpdir } from "node:os";
import { supportsSyncAlways } from "../lib/nats/durability.ts";
import { devNatsServerBinary, natsServerVersion, startNatsServer } from "../lib/nats/nats-server.ts";
import { type LoadFigures, type LoadOptions, measureIngress, progress, tempDir } from "./rows.ts";
import { round } from "./stats.ts";
import { loadRow, type Row } from "./table.ts";

export type FsyncFigures = { version: string; filesystem: string; interval: LoadFigures; always: LoadFigures };

/** The filesystem type under the stores (an fsync on tmpfs costs nothing and proves nothing). */
function filesystemOf(dir: string): string {
  return Bun.spawnSync(["stat", "-f", "-c", "%T", dir]).stdout.toString().trim() || "unknown";
}

/** Measures both; throws when no nats-server that takes `sync_interval: always` can be had. */
export async function measureFsync(opts: LoadOptions): Promise<FsyncFigures> {
  const binary = devNatsServerBinary();
  const version = natsServerVersion(binary);
  if (supportsSyncAlways(version) !== true)
    throw new Error(
      `nats-server ${version} (${binary}) cannot fsync per write: run scripts/install-nats-server-current.sh or set NATS_SERVER_BIN`,
    );
  const measured: Partial<Record<"interval" | "always", LoadFigures>> = {};
  for (const mode of ["interval", "always"] as const) {
    const nats = await startNatsServer({ binary, storeDir: tempDir(`fsync-${mode}`), syncAlways: mode === "always" });
    try {
      progress(`fsync: nats-server ${version}, sync_interval ${mode === "always" ? "always" : "default (2 min)"}`);
      measured[mode] = await measureIngress(nats, opts);
    } finally {
      await nats.stop();
    }
  }
  return { version, filesystem: filesystemOf(tmpdir()), interval: measured.interval!, always: measured.always! };
}

/** Two rows: the default interval, then `always` with its share of the default's rate. */
export function fsyncRows(f: FsyncFigures): Row[] {
  const share = f.always.rps / f.interval.rps;
  const rows = [
    loadRow(
      "ingress, sync 2 min",
      f.interval,
      "(the default)",
      true,
      `nats-server ${f.version}, store on ${f.filesystem}, ${f.interval.latency.count} requests`,
    ),
    loadRow(
      "ingress, sync always",
      f.always,
      "(the cost)",
      true,
      `${round(share * 100)}% of the default's rate, p50 +${round(f.always.latency.p50 - f.interval.latency.p50)} ms; ${f.always.latency.count} requests`,
    ),
  ];
  // Measured, not judged: no target to meet (a failed request still makes a row INVALID).
  return rows.map((row) => (row.verdict === "ok" ? { ...row, verdict: "-" as const } : row));
}

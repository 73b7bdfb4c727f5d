import { describe, expect, test } from "bun:test";
import { loadConfig, watchedDirs } from "../lib/config.ts";
import { decideDisk, formatBytes, lowDiskMessage, thresholdBytes, unreadableDisk } from "../lib/disk.ts";

const GiB = 1024 ** 3;
const defaults = { minFreeBytes: GiB, minFreePercent: 5 };
const reading = (freeBytes: number, totalBytes: number) => ({
  role: "read model",
  dir: "/srv/data",
  freeBytes,
  totalBytes,
});

describe("the disk guard's decision", () => {
  test("given a large disk, then the default asks for 1 GiB free", () => {
    expect(thresholdBytes(500 * GiB, defaults)).toBe(GiB);
    expect(decideDisk(reading(GiB, 500 * GiB), defaults).low).toBe(false);
    expect(decideDisk(reading(GiB - 1, 500 * GiB), defaults).low).toBe(true);
  });

  test("given a small disk, then the default asks for 5 % of it", () => {
    expect(thresholdBytes(8 * GiB, defaults)).toBe(Math.floor(0.4 * GiB));
    expect(decideDisk(reading(GiB / 2, 8 * GiB), defaults).low).toBe(false);
    expect(decideDisk(reading(GiB / 4, 8 * GiB), defaults).low).toBe(true);
  });

  test("given either threshold 0, then no disk is ever low (the guard is off)", () => {
    expect(decideDisk(reading(0, GiB), { minFreeBytes: 0, minFreePercent: 5 }).low).toBe(false);
    expect(decideDisk(reading(0, GiB), { minFreeBytes: GiB, minFreePercent: 0 }).low).toBe(false);
  });

  test("given a low disk, then the message names its role, directory, free space and threshold, and the variables to change", () => {
    const message = lowDiskMessage(
      decideDisk(reading(1_200_000, 8 * 1024 ** 2), { minFreeBytes: 2 * 1024 ** 2, minFreePercent: 100 }),
    );
    expect(message).toBe(
      "the read model's disk is low: 1.1 MiB free under /srv/data, below the threshold of 2.0 MiB (CODEX_FLOW_DISK_MIN_FREE_BYTES / CODEX_FLOW_DISK_MIN_FREE_PERCENT)",
    );
  });

  test("given a directory statfs cannot read, then it is reported with the error and never low", () => {
    const state = unreadableDisk(
      { role: "NATS store", dir: "/gone" },
      new Error("ENOENT: no such file or directory"),
      defaults,
    );
    expect(state).toMatchObject({ low: false, freeBytes: null, error: "ENOENT: no such file or directory" });
  });

  test("bytes read as a person reads them", () => {
    expect([formatBytes(512), formatBytes(1536), formatBytes(5 * GiB), formatBytes(3 * 1024 * GiB)]).toEqual([
      "512 B",
      "1.5 KiB",
      "5.0 GiB",
      "3.0 TiB",
    ]);
  });
});

describe("its configuration", () => {
  test("given nothing set, then 1 GiB or 5 % and only the read model's directory is watched", () => {
    const config = loadConfig({ CODEX_FLOW_BACKEND_DATA_DIR: "/srv/data" });
    expect([config.diskMinFreeBytes, config.diskMinFreePercent]).toEqual([GiB, 5]);
    expect(watchedDirs(config)).toEqual([{ role: "read model", dir: "/srv/data" }]);
  });

  test("given the NATS store's directory, then it is watched too", () => {
    const config = loadConfig({ CODEX_FLOW_BACKEND_DATA_DIR: "/srv/data", CODEX_FLOW_NATS_STORE_DIR: "/var/lib/nats" });
    expect(watchedDirs(config).map((d) => d.dir)).toEqual(["/srv/data", "/var/lib/nats"]);
  });

  test("given a percent over 100, then the error names the variable", () => {
    expect(() => loadConfig({ CODEX_FLOW_DISK_MIN_FREE_PERCENT: "150" })).toThrow("CODEX_FLOW_DISK_MIN_FREE_PERCENT");
  });
});

#!/usr/bin/env bun
// Checks the nats-server configurations in deploy/nats against the local nats-server:
//
//   bun deploy/check.ts
//
// 1. `nats-server -c FILE -t` on every file as shipped (they set `sync_interval: always`;
//    on a server that refuses it, Debian's 2.9.10, the file must fail on that line alone
//    and pass without it: the variant docs/durability.md tells the operator to make, which
//    steps 2 and 3 then run), and /varz's jetstream.config.sync_always of each server;
// 2. single.conf, from a temporary copy (free loopback ports, temporary store_dir):
//    starts it, reads max_payload from /varz, provisions the stream with the project's
//    ensureStream (replicas 1) and publishes one event;
// 3. cluster/node-{1,2,3}.conf, from temporary copies (free loopback ports, routes
//    rewritten to them, temporary store_dirs): starts all three, provisions the stream
//    with replicas 3 (loadConfig({CODEX_FLOW_STREAM_REPLICAS: "3"})), publishes one
//    event, reads it back, checks that a second stream created with 1 replica can be
//    scaled to 3, and connects once with a comma-separated NATS_URL;
// then stops every server it started and removes the temporary files.
// Needs nats-server (Debian: /usr/sbin/nats-server, or NATS_SERVER_BIN).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Subprocess } from "bun";
import { loadConfig } from "../lib/config.ts";
import { logger } from "../lib/log.ts";
import { supportsSyncAlways } from "../lib/nats/durability.ts";
import { connectNats, ensureStream } from "../lib/nats/jetstream.ts";
import { freePort, natsServerBinary, natsServerVersion } from "../lib/nats/nats-server.ts";

const here = import.meta.dir;
const binary = natsServerBinary();
const version = natsServerVersion(binary);
/** Whether this server takes the configs as shipped; 2.9.10 does not know sync_interval. */
const syncAlways = supportsSyncAlways(version) !== false;
/** The line `sed -i '/^ *sync_interval: always$/d'` deletes (the configs' headers and docs/durability.md). */
const SYNC_LINE = /^ *sync_interval: always\n/m;
const log = logger("deploy-check");
const work = mkdtempSync(join(tmpdir(), "codex-flows-deploy-check-"));
const children: Subprocess[] = [];
let failures = 0;

function check(ok: boolean, what: string): void {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures++;
}

function configTest(file: string, quiet = false): boolean {
  const result = Bun.spawnSync([binary, "-c", file, "-t"], { stdout: "pipe", stderr: "pipe" });
  const output = `${result.stdout.toString()}${result.stderr.toString()}`.trim();
  if (result.exitCode !== 0 && !quiet) console.log(output);
  return result.exitCode === 0;
}

/** A config as the operator runs it on this server: as shipped, or on 2.9.10 without the sync_interval line. */
function asRun(file: string): string {
  const text = readFileSync(file, "utf8");
  return syncAlways ? text : text.replace(SYNC_LINE, "");
}

/** Step 1 for one shipped file: `-t` passes, or on 2.9.10 fails on sync_interval alone and passes without it. */
function shippedTest(file: string): void {
  if (syncAlways) {
    check(configTest(file, false), `nats-server -c ${file} -t`);
    return;
  }
  const result = Bun.spawnSync([binary, "-c", file, "-t"], { stdout: "pipe", stderr: "pipe" });
  const output = `${result.stdout.toString()}${result.stderr.toString()}`.trim();
  const variant = join(work, `${file.replaceAll("/", "_")}.without-sync`);
  writeFileSync(variant, asRun(file));
  const refusedAlone =
    result.exitCode !== 0 &&
    output.includes('unknown field "sync_interval"') &&
    SYNC_LINE.test(readFileSync(file, "utf8"));
  check(
    refusedAlone && configTest(variant, true),
    `nats-server ${version} -c ${file} -t refuses sync_interval alone; without that line (docs/durability.md) it passes`,
  );
}

/** /varz's jetstream.config.sync_always: true as shipped on 2.10+, absent on 2.9.10. */
async function checkSync(label: string, httpPort: number): Promise<void> {
  const varz = (await (await fetch(`http://127.0.0.1:${httpPort}/varz`)).json()) as {
    jetstream?: { config?: { sync_always?: boolean } };
  };
  const found = varz.jetstream?.config?.sync_always;
  check(
    syncAlways ? found === true : found === undefined,
    `${label}: /varz jetstream.config.sync_always ${found} (nats-server ${version})`,
  );
}

async function start(file: string, clientPort: number): Promise<Subprocess> {
  const child = Bun.spawn([binary, "-c", file], { stdout: "ignore", stderr: "pipe" });
  children.push(child);
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`${file}: nats-server exited: ${await new Response(child.stderr as ReadableStream).text()}`);
    try {
      const socket = await Bun.connect({ hostname: "127.0.0.1", port: clientPort, socket: { data() {} } });
      socket.end();
      return child;
    } catch {
      await Bun.sleep(50);
    }
  }
  throw new Error(`${file}: no answer on port ${clientPort}`);
}

async function stopAll(): Promise<void> {
  for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
  for (const child of children) {
    const exited = await Promise.race([child.exited.then(() => true), Bun.sleep(5_000).then(() => false)]);
    if (!exited) child.kill("SIGKILL");
    await child.exited;
  }
}

/** JetStream answers "temporarily unavailable" until the cluster has elected its meta leader. */
async function retry<T>(what: string, fn: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${what}: ${String(error)}`);
      await Bun.sleep(250);
    }
  }
}

/** Publishes one message with a fixed id (a retried publish that was stored after all is a duplicate, not a second message). */
async function publishOne(nc: NatsConnection, stream: string, subject: string, msgID: string) {
  const js = jetstream(nc);
  const ack = await js.publish(subject, JSON.stringify({ check: "deploy", msgID }), { msgID });
  return { ack, stored: await (await jetstreamManager(nc)).streams.getMessage(stream, { seq: ack.seq }) };
}

async function single(): Promise<void> {
  const file = join(here, "nats", "single.conf");
  shippedTest(file);
  const port = await freePort();
  const httpPort = await freePort();
  const copy = join(work, "single.conf");
  writeFileSync(
    copy,
    asRun(file)
      .replace(/^listen: .*$/m, `listen: 127.0.0.1:${port}`)
      .replace(/^http: .*$/m, `http: 127.0.0.1:${httpPort}`)
      .replace(/store_dir: .*$/m, `store_dir: ${join(work, "single-store")}`),
  );
  check(configTest(copy), "temporary copy of single.conf passes -t");
  const server = await start(copy, port);
  const varz = (await (await fetch(`http://127.0.0.1:${httpPort}/varz`)).json()) as {
    max_payload: number;
    version: string;
    jetstream?: { config?: { store_dir?: string } };
  };
  check(varz.max_payload === 1024 * 1024, `single: max_payload ${varz.max_payload} (nats-server ${varz.version})`);
  check(Boolean(varz.jetstream?.config?.store_dir), `single: JetStream on, store ${varz.jetstream?.config?.store_dir}`);
  await checkSync("single", httpPort);
  const config = loadConfig({}, {});
  const nc = await connectNats(`nats://127.0.0.1:${port}`, "deploy-check", log);
  try {
    // A current server opens its client port before JetStream has finished starting.
    const jsm = await retry("JetStream on the single server", () => jetstreamManager(nc));
    await retry("ensureStream", () => ensureStream(jsm, config));
    const info = await jsm.streams.info(config.stream);
    check(
      info.config.num_replicas === 1 && info.config.allow_direct === true,
      `single: stream ${config.stream} replicas ${info.config.num_replicas}, allow_direct ${info.config.allow_direct}`,
    );
    const { ack, stored } = await retry("publish to the single server", () =>
      publishOne(nc, config.stream, `${config.subjectPrefix}.events.deploy-check`, "deploy-check:single"),
    );
    check(stored?.seq === ack.seq, `single: published and read back seq ${ack.seq}`);
  } finally {
    await nc.close();
  }
  server.kill("SIGTERM");
  await server.exited;
}

/** `count` free loopback ports, no two the same (a port freed by one pick can be the next pick's). */
async function distinctFreePorts(count: number): Promise<number[]> {
  const found = new Set<number>();
  for (let tries = 0; found.size < count && tries < count * 20; tries++) found.add(await freePort());
  if (found.size < count) throw new Error(`found only ${found.size} distinct free ports of ${count}`);
  return [...found];
}

async function cluster(): Promise<void> {
  const nodes = [1, 2, 3];
  const free = await distinctFreePorts(nodes.length * 3);
  const ports = nodes.map((_, i) => ({ client: free[3 * i]!, http: free[3 * i + 1]!, cluster: free[3 * i + 2]! }));
  for (const n of nodes) {
    const file = join(here, "nats", "cluster", `node-${n}.conf`);
    shippedTest(file);
    const p = ports[n - 1]!;
    let text = asRun(file)
      .replace(/^listen: .*$/m, `listen: 127.0.0.1:${p.client}`)
      .replace(/^http: .*$/m, `http: 127.0.0.1:${p.http}`)
      .replace(/store_dir: .*$/m, `store_dir: ${join(work, `node-${n}-store`)}`)
      .replace(/^(\s+)listen: 0\.0\.0\.0:6222$/m, `$1listen: 127.0.0.1:${p.cluster}`);
    for (const m of nodes)
      text = text.replace(`nats-route://nats-${m}:6222`, `nats-route://127.0.0.1:${ports[m - 1]!.cluster}`);
    const copy = join(work, `node-${n}.conf`);
    writeFileSync(copy, text);
    check(configTest(copy), `temporary copy of node-${n}.conf passes -t`);
  }
  await Promise.all(nodes.map((n) => start(join(work, `node-${n}.conf`), ports[n - 1]!.client)));
  // What docs/deploy.md tells the operator to look at once the three run.
  const monitor = async () => {
    // nats-server 2.10+ pools several routes per peer (num_routes 6 or more): count the peers.
    const routez = (await (await fetch(`http://127.0.0.1:${ports[0]!.http}/routez`)).json()) as {
      num_routes: number;
      routes?: { remote_id: string }[];
    };
    const peers = new Set((routez.routes ?? []).map((r) => r.remote_id)).size;
    const jsz = (await (await fetch(`http://127.0.0.1:${ports[0]!.http}/jsz`)).json()) as {
      meta_cluster?: { leader?: string; cluster_size?: number };
    };
    if (peers !== 2 || !jsz.meta_cluster?.leader || jsz.meta_cluster.cluster_size !== 3)
      throw new Error(JSON.stringify({ routez: routez.num_routes, peers, meta: jsz.meta_cluster }));
    return { routes: routez.num_routes, peers, meta: jsz.meta_cluster };
  };
  const seen = await retry("routes and a JetStream meta leader", monitor);
  for (const n of nodes) await checkSync(`cluster nats-${n}`, ports[n - 1]!.http);
  check(
    true,
    `cluster: /routez num_routes ${seen.routes} to ${seen.peers} peers, /jsz meta_cluster leader ${seen.meta.leader}, cluster_size ${seen.meta.cluster_size}`,
  );
  const config = loadConfig({ CODEX_FLOW_STREAM_REPLICAS: "3" }, {});
  check(config.replicas === 3, 'loadConfig({CODEX_FLOW_STREAM_REPLICAS: "3"}).replicas === 3');
  const nc = await connectNats(`nats://127.0.0.1:${ports[0]!.client}`, "deploy-check", log);
  try {
    // Until the three elect a meta leader, JetStream's account info request times out.
    const jsm = await retry("JetStream in the cluster", () => jetstreamManager(nc));
    await retry("ensureStream with replicas 3", () => ensureStream(jsm, config));
    const info = await retry("stream info with a leader and two current replicas", async () => {
      const found = await jsm.streams.info(config.stream);
      if (!found.cluster?.leader || (found.cluster.replicas ?? []).filter((r) => r.current).length !== 2)
        throw new Error("replicas not current yet");
      return found;
    });
    check(
      info.config.num_replicas === 3,
      `cluster: stream ${config.stream} replicas ${info.config.num_replicas}, leader ${info.cluster?.leader}, peers ${(info.cluster?.replicas ?? []).map((r) => `${r.name}${r.current ? " (current)" : ""}`).join(", ")}`,
    );
    // A current server may still answer "JetStream not enabled" for a moment after the stream is made.
    const { ack, stored } = await retry("publish to the cluster", () =>
      publishOne(nc, config.stream, `${config.subjectPrefix}.events.deploy-check`, "deploy-check:cluster"),
    );
    check(stored?.seq === ack.seq, `cluster: published and read back seq ${ack.seq}`);
    const direct = await retry("direct get by subject", () =>
      jsm.direct.getMessage(config.stream, { last_by_subj: `${config.subjectPrefix}.events.deploy-check` }),
    );
    check(direct?.seq === ack.seq, "cluster: direct get by subject (allow_direct) answers");

    // A stream created with 1 replica (CODEX_FLOW_STREAM_REPLICAS unset) and scaled later.
    const small = loadConfig({ CODEX_FLOW_STREAM: "SCALE_CHECK", CODEX_FLOW_SUBJECT_PREFIX: "scalecheck" }, {});
    await retry("ensureStream with replicas 1", () => ensureStream(jsm, small));
    const before = await retry("info of the 1-replica stream", () => jsm.streams.info(small.stream));
    await retry("scaling it to 3 replicas", () =>
      jsm.streams.update(small.stream, { ...before.config, num_replicas: 3 }),
    );
    const after = await retry("scaled stream with two current replicas", async () => {
      const found = await jsm.streams.info(small.stream);
      if ((found.cluster?.replicas ?? []).filter((r) => r.current).length !== 2)
        throw new Error("replicas not current yet");
      return found;
    });
    check(
      after.config.num_replicas === 3,
      `cluster: a 1-replica stream scales to ${after.config.num_replicas} replicas by a stream update`,
    );
    // ensureStream leaves the operator's replica count alone.
    await retry("ensureStream on the scaled stream", () => ensureStream(jsm, small));
    const kept = await retry("info of the scaled stream", () => jsm.streams.info(small.stream));
    check(kept.config.num_replicas === 3, "cluster: ensureStream with replicas 1 keeps an existing stream at 3");
    await retry("deleting the scaled stream", () => jsm.streams.delete(small.stream));
  } finally {
    await nc.close();
  }

  // A client that knows one node learns the others from the server (connect_urls) and
  // fails over when its node stops; the stream keeps working on 2 of 3 nodes.
  const node3 = `nats://127.0.0.1:${ports[2]!.client}`;
  const moving = await connectNats(node3, "deploy-check failover", log);
  try {
    const reconnected = (async () => {
      for await (const status of moving.status()) if (status.type === "reconnect") return true;
      return false;
    })();
    const third = children[children.length - 1]!;
    third.kill("SIGTERM");
    await third.exited;
    const moved = await Promise.race([reconnected, Bun.sleep(15_000).then(() => false)]);
    check(moved, `cluster: a client connected to nats-3 alone reconnects to ${moving.getServer()} when nats-3 stops`);
    const { ack } = await retry("publish with nats-3 down", () =>
      publishOne(moving, config.stream, `${config.subjectPrefix}.events.deploy-check`, "deploy-check:failover"),
    );
    check(ack.seq === 2, `cluster: with nats-3 down the stream still takes a publish (seq ${ack.seq})`);
  } finally {
    await moving.close();
  }

  // NATS_URL naming every node, comma-separated, while the last one listed is down.
  const list = ports.map((p) => `nats://127.0.0.1:${p.client}`).join(",");
  try {
    const listed = await connectNats(list, "deploy-check list", log);
    note(`NATS_URL=${list} with the last node down: connected to ${listed.getServer()}`);
    await listed.close();
  } catch (error) {
    note(
      `NATS_URL=${list} with the last node down does not connect (${String(error)}): the client reads a comma-separated NATS_URL as one URL, the last one`,
    );
  }
}

function note(what: string): void {
  console.log(`note ${what}`);
}

try {
  await single();
  await cluster();
} catch (error) {
  check(false, String((error as Error).stack ?? error));
} finally {
  await stopAll();
  rmSync(work, { recursive: true, force: true });
}
console.log(failures === 0 ? "deploy check: all passed" : `deploy check: ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);

import { rmSync } from "node:fs";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { type EmbeddedNats, freePort, startNatsServer } from "../../lib/nats/nats-server.ts";
import { tempDir } from "./temp.ts";

/** One node of a loopback cluster: fixed client and route ports and a store that survive restarts. */
export type ClusterNode = {
  name: string;
  port: number;
  routePort: number;
  monitorPort: number;
  storeDir: string;
  url: string;
  server?: EmbeddedNats;
};

let clusters = 0;

/**
 * A JetStream cluster of `size` real nats-servers on loopback (the binary natsServerBinary
 * picks: NATS_SERVER_BIN, PATH, /usr/sbin). Nodes can be killed, stopped and started
 * again on the same ports and stores. `urls` is a comma-separated NATS_URL of every node.
 */
export async function startNatsCluster(size = 3) {
  const clusterName = `cf${process.pid}x${++clusters}`;
  const nodes: ClusterNode[] = [];
  for (let i = 1; i <= size; i++) {
    const port = await freePort();
    nodes.push({
      name: `nats-${i}`,
      port,
      routePort: await freePort(),
      monitorPort: await freePort(),
      storeDir: tempDir(`codex-flows-cluster-${i}-`),
      url: `nats://127.0.0.1:${port}`,
    });
  }
  const routes = nodes.map((n) => `nats://127.0.0.1:${n.routePort}`).join(",");

  const start = async (node: ClusterNode) => {
    node.server = await startNatsServer({
      port: node.port,
      storeDir: node.storeDir,
      args: [
        "-m",
        String(node.monitorPort),
        "-n",
        node.name,
        "--cluster_name",
        clusterName,
        "--cluster",
        `nats://127.0.0.1:${node.routePort}`,
        "--routes",
        routes,
      ],
    });
  };
  const self = {
    nodes,
    urls: nodes.map((n) => n.url).join(","),
    node(name: string): ClusterNode {
      const node = nodes.find((n) => n.name === name);
      if (!node) throw new Error(`no node ${name}`);
      return node;
    },
    /** Starts a node (again) on its ports and store. */
    start: (name: string) => start(self.node(name)),
    /** Stops a node: SIGTERM (a clean shutdown), or SIGKILL. */
    async stop(name: string, how: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<void> {
      const node = self.node(name);
      const server = node.server;
      node.server = undefined;
      if (!server) return;
      await server.kill(how);
    },
    /** The running node a client is connected to, found by its connection name in each node's /connz. */
    async nodeOf(connectionName: string): Promise<ClusterNode | undefined> {
      for (const node of nodes.filter((n) => n.server)) {
        const connz = (await (await fetch(`http://127.0.0.1:${node.monitorPort}/connz?limit=1024`)).json()) as {
          connections?: { name?: string }[];
        };
        if ((connz.connections ?? []).some((c) => c.name === connectionName)) return node;
      }
      return undefined;
    },
    /** Waits until JetStream answers through every running node (a meta leader is elected). */
    async ready(timeoutMs = 30_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      for (const node of nodes.filter((n) => n.server)) {
        for (;;) {
          const nc = await connect({ servers: node.url, timeout: 2_000 }).catch(() => undefined);
          const ok = nc
            ? await jetstreamManager(nc, { timeout: 2_000 })
                .then((jsm) => jsm.getAccountInfo())
                .then(
                  () => true,
                  () => false,
                )
            : false;
          await nc?.close();
          if (ok) break;
          if (Date.now() > deadline) throw new Error(`JetStream not ready through ${node.name} within ${timeoutMs} ms`);
          await Bun.sleep(200);
        }
      }
    },
    /** Waits until the stream has a leader and every replica is current (none offline, none lagging). */
    async streamCurrent(stream: string, timeoutMs = 30_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      let last = "";
      for (;;) {
        const nc = await connect({ servers: self.urls.split(","), timeout: 2_000 }).catch(() => undefined);
        try {
          if (nc) {
            const info = await jetstreamManager(nc, { timeout: 2_000 })
              .then((jsm) => jsm.streams.info(stream))
              .catch((error) => String(error));
            if (typeof info === "string") last = info;
            else {
              const replicas = info.cluster?.replicas ?? [];
              last = JSON.stringify(info.cluster);
              if (
                info.cluster?.leader &&
                replicas.length === nodes.length - 1 &&
                replicas.every((r) => r.current && !r.offline)
              )
                return;
            }
          }
        } finally {
          await nc?.close();
        }
        if (Date.now() > deadline)
          throw new Error(`stream ${stream} not current on every node within ${timeoutMs} ms: ${last}`);
        await Bun.sleep(250);
      }
    },
    /** Stops every node and removes the stores. */
    async close(): Promise<void> {
      for (const node of nodes) await self.stop(node.name, "SIGKILL");
      for (const node of nodes) rmSync(node.storeDir, { recursive: true, force: true });
    },
  };
  await Promise.all(nodes.map(start));
  await self.ready();
  return self;
}

export type NatsCluster = Awaited<ReturnType<typeof startNatsCluster>>;

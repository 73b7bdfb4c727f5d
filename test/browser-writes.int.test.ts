import { beforeAll, describe, expect, test } from "bun:test";
import { loadConfig } from "../lib/config.ts";
import { exposureWarning } from "../services/ingress/browser.ts";
import { startSystem } from "../services/runtime/system.ts";
import { echoStep, writeFlows } from "./support/flows.ts";
import { testConfig, useNatsServer } from "./support/nats.ts";

const nats = useNatsServer();
let url: string;
let allowingUrl: string;

beforeAll(async () => {
  const cwd = writeFlows({ notes: [{ name: "write", type: "note.posted", source: echoStep() }] });
  // No secret, as `flow dev` runs by default: the browser rules are all that stands between a web page and the steps.
  const system = await startSystem(testConfig({ cwd }), nats.url, ["ingress", "matcher", "executor", "projector"]);
  const allowing = await startSystem(testConfig({ cwd, allowedOrigins: ["https://dashboard.example"] }), nats.url, [
    "ingress",
    "projector",
  ]);
  url = system.ingressUrl!;
  allowingUrl = allowing.ingressUrl!;
  nats.cleanup(() => system.stop());
  nats.cleanup(() => allowing.stop());
});

const event = (id: string) => JSON.stringify({ id, type: "note.posted", payload: {} });
const stored = async (id: string) => (await fetch(`${url}/events/${id}`)).status === 200;

describe("a web page cannot post events to a local instance", () => {
  test("a text/plain body (a simple request with no preflight) is 415 and nothing is stored", async () => {
    const response = await fetch(`${url}/events?wait=none`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: event("plain-1"),
    });
    expect(response.status).toBe(415);
    expect(((await response.json()) as { error: string }).error).toContain("expected application/json");
    const none = await fetch(`${url}/events?wait=none`, { method: "POST", body: new Blob([event("plain-2")]) });
    expect(none.status).toBe(415);
    expect(await stored("plain-1")).toBe(false);
  });

  test("a write from another origin is 403, also for run operations; same-origin and non-browser clients pass", async () => {
    const variants: Record<string, string>[] = [
      { origin: "https://evil.example" },
      { "sec-fetch-site": "cross-site" },
      { origin: "http://localhost:3000", "sec-fetch-site": "same-site" },
    ];
    for (const headers of variants) {
      const response = await fetch(`${url}/events?wait=none`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: event("cross-1"),
      });
      expect(response.status).toBe(403);
      expect(((await response.json()) as { error: string }).error).toContain("CODEX_FLOW_ALLOWED_ORIGINS");
    }
    expect(
      (await fetch(`${url}/runs/x/cancel`, { method: "POST", headers: { origin: "https://evil.example" } })).status,
    ).toBe(403);
    expect(await stored("cross-1")).toBe(false);
    const host = new URL(url).host;
    const same = await fetch(`${url}/events?wait=none`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: `http://${host}`, "sec-fetch-site": "same-origin" },
      body: event("same-1"),
    });
    expect(same.status).toBe(202);
    const plain = await fetch(`${url}/events?wait=none`, {
      method: "POST",
      headers: { "content-type": "application/json; charset=utf-8" },
      body: event("curl-1"),
    });
    expect(plain.status).toBe(202);
  });

  test("an origin listed in CODEX_FLOW_ALLOWED_ORIGINS may write", async () => {
    const listed = await fetch(`${allowingUrl}/events?wait=none`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        origin: "https://dashboard.example",
        "sec-fetch-site": "cross-site",
      },
      body: event("listed-1"),
    });
    expect(listed.status).toBe(202);
    const other = await fetch(`${allowingUrl}/events?wait=none`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: "https://evil.example" },
      body: event("listed-2"),
    });
    expect(other.status).toBe(403);
  });
});

describe("listening beyond loopback without a secret", () => {
  test("warns loudly; an empty secret counts as none; loopback or a secret does not warn", () => {
    const empty = loadConfig({ CODEX_FLOW_BACKEND_SECRET: "", CODEX_FLOW_BACKEND_HOST: "0.0.0.0" });
    expect(empty.secret).toBeUndefined();
    expect(exposureWarning(empty.host, empty.secret)).toContain("WITHOUT CODEX_FLOW_BACKEND_SECRET");
    expect(exposureWarning("192.168.1.5", undefined)).toContain("192.168.1.5");
    expect(exposureWarning("127.0.0.1", undefined)).toBeUndefined();
    expect(exposureWarning("::1", undefined)).toBeUndefined();
    expect(exposureWarning("0.0.0.0", "s3cret")).toBeUndefined();
  });
});

import { beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { RunSubjectKind } from "../lib/subjects.ts";
import { startSystem } from "../services/system.ts";
import { json } from "./support/http.ts";
import { testConfig, useNatsServer } from "./support/nats.ts";

const nats = useNatsServer();
const REPO = join(import.meta.dir, "..");
const read = (path: string) => readFileSync(join(REPO, path), "utf8");
let url: string;

beforeAll(async () => {
  const system = await startSystem(testConfig({ token: "t", secret: "s" }), nats.url, ["ingress", "projector"]);
  url = system.ingressUrl!;
  nats.cleanup(() => system.stop());
});

describe("the API document and its page", () => {
  test("/openapi loads its script and styles from this server, never from a CDN", async () => {
    const page = await (await fetch(`${url}/openapi`)).text();
    const refs = [...page.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThanOrEqual(2);
    for (const ref of refs) {
      expect(ref).toStartWith("/openapi/assets/");
      const asset = await fetch(`${url}${ref}`);
      expect(asset.status).toBe(200);
      expect((await asset.arrayBuffer()).byteLength).toBeGreaterThan(10_000);
    }
    expect(page).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)/);
  });

  test("the document marks which endpoints need the token, which the HMAC, and which are open", async () => {
    const doc = await json(fetch(`${url}/openapi.json`));
    const security = (path: string, method: string) => doc.paths[path][method].security;
    for (const [path, method] of [["/runs", "get"], ["/runs/{id}", "get"], ["/runs/{id}/output", "get"], ["/events", "get"], ["/events/{id}", "get"], ["/metrics", "get"], ["/flows", "get"], ["/schedules", "get"], ["/hosts", "get"], ["/changes", "get"]]) {
      expect({ path, method, security: security(path!, method!) }).toEqual({ path, method, security: [{ bearer: [] }, { apiKey: [] }] });
    }
    // Operations: the token, or with only a secret set the body's HMAC (docs/security.md).
    for (const [path, method] of [["/runs/{id}/cancel", "post"], ["/runs/{id}/retry", "post"], ["/events/{id}/replay", "post"], ["/replays", "post"], ["/flows/{flow}/pause", "post"], ["/flows/{flow}/resume", "post"]]) {
      expect({ path, method, security: security(path!, method!) }).toEqual({ path, method, security: [{ bearer: [] }, { apiKey: [] }, { hmac: [] }] });
    }
    expect(security("/events", "post")).toEqual([{ hmac: [] }]);
    expect(security("/healthz", "get")).toEqual([]);
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(["apiKey", "bearer", "hmac"]);
  });
});

describe("docs that agree with behaviour", () => {
  test("the README's subject table lists every run subject and says how long the event token is", () => {
    const kinds: RunSubjectKind[] = ["started", "output", "finished", "cancel", "released"];
    const table = read("README.md").split("\n").filter((line) => line.startsWith("| `flows."));
    for (const kind of kinds) expect(table.some((line) => line.includes(`.${kind}\``) || line.includes(`/ \`.${kind}\``))).toBe(true);
    expect(table.join("\n")).toContain("first 32 hex digits of sha256(event id)");
  });

  test("docs cite no file outside the repository; env.example says what NATS_URL and the stop timeout really do", () => {
    for (const doc of ["docs/architecture.md", "docs/configuration.md", "docs/deploy.md", "docs/flows.md", "docs/replay.md", "docs/runners.md", "README.md"]) {
      expect({ doc, outside: read(doc).match(/\.\.\/shared|`\.\.\/[^`]*`/g) }).toEqual({ doc, outside: null });
    }
    const env = read("deploy/env.example");
    expect(env).not.toContain("is not split");
    expect(env).toContain("comma-separated list names several cluster nodes");
    expect(env).not.toMatch(/forces its exit after this plus 10 s/);
    for (const unit of ["all", "executor", "ingress", "matcher", "projector"]) expect(read(`deploy/systemd/codex-flows-${unit}.service`)).not.toContain("CODEX_FLOW_ACK_WAIT_MS + 10 s");
  });

  test("docs/security.md gives the threat model: every actor, and what each control does and does not promise", () => {
    const doc = read("docs/security.md");
    for (const actor of ["## Network clients", "## Signers", "## Token holders", "## Flow authors", "## Local users"]) expect(doc).toContain(actor);
    for (const control of ["CODEX_FLOW_BACKEND_SECRET", "CODEX_FLOW_BACKEND_TOKEN", "CODEX_FLOW_ALLOWED_ORIGINS", "CODEX_FLOW_MAX_BODY_BYTES", "CODEX_FLOW_MAX_CHAIN_DEPTH", "SO_REUSEPORT", "max_payload", "0600", "setsid"]) expect(doc).toContain(control);
    expect(doc.match(/Does not|does not guarantee|cannot protect/g)!.length).toBeGreaterThanOrEqual(4);
    expect(read("README.md")).toContain("docs/security.md");
  });
});

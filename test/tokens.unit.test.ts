import { describe, expect, test } from "bun:test";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../lib/config.ts";
import type { OperatorActed } from "../lib/protocol/messages.ts";
import { allows, parseTokens } from "../lib/tokens.ts";
import { operatorActed } from "../services/projector/evolve-waits.ts";
import { spec } from "./support/spec.ts";
import { tempDir } from "./support/temp.ts";

const TOKEN = "a-token-of-sixteen-or-more";
const parse = spec((raw: string, legacy: string | undefined) => parseTokens(raw, legacy));

describe("CODEX_FLOW_BACKEND_TOKENS", () => {
  test("given the single token, when named tokens are added, then the single one is the admin `operator` among them", () => {
    parse
      .given("legacy-token-0123456789")
      .when(JSON.stringify([{ name: "ci", token: TOKEN, role: "operate", flows: ["release"] }]))
      .then([
        { name: "operator", token: "legacy-token-0123456789", role: "admin" },
        { name: "ci", token: TOKEN, role: "operate", flows: ["release"] },
      ]);
  });

  test("each fault names the entry by index and name, never the token", () => {
    const one = (entry: unknown) =>
      JSON.stringify([{ name: "ok", token: "another-token-0123456789", role: "read" }, entry]);
    parse
      .given(undefined)
      .when(one({ name: "ci", token: TOKEN, role: "root" }))
      .thenThrows(`entry 1 (ci): role: expected one of read, operate, admin, got "root"`);
    parse
      .given(undefined)
      .when(one({ name: "ci", token: "short", role: "read" }))
      .thenThrows("entry 1 (ci): token: expected at least 16 characters");
    parse
      .given(undefined)
      .when(one({ name: "ok", token: TOKEN, role: "read" }))
      .thenThrows(`entry 1 (ok): name "ok" is used twice`);
    parse
      .given(undefined)
      .when(one({ name: "ci", token: "another-token-0123456789", role: "read" }))
      .thenThrows("entry 1 (ci): its token is the same as an earlier entry's");
    parse
      .given(undefined)
      .when(one({ name: "ci", token: TOKEN, role: "read", flows: [] }))
      .thenThrows("entry 1 (ci): flows: expected a non-empty list");
    parse
      .given(undefined)
      .when(one({ name: "ci", token: TOKEN, role: "read", scope: "x" }))
      .thenThrows(`entry 1 (ci): unknown field "scope"`);
    parse
      .given(undefined)
      .when(one({ name: "bad name!", token: TOKEN, role: "read" }))
      .thenThrows("entry 1: name: expected 1-64 letters");
    parse
      .given("legacy-token-0123456789")
      .when(JSON.stringify([{ name: "operator", token: TOKEN, role: "read" }]))
      .thenThrows(`entry 0 (operator): name "operator" is used twice`);
    parse
      .given(undefined)
      .when(`[{"name": "ci", "token": "${TOKEN}",`)
      .thenThrows("CODEX_FLOW_BACKEND_TOKENS: not valid JSON");
    // Neither a bad entry, bad JSON nor a value that is no array and no path echoes what it was given.
    for (const raw of [
      `[{"name": "ci", "token": "${TOKEN}", "role": "root"}]`,
      `[{"token": "${TOKEN}" "name": 1}]`,
      `{"name": "${TOKEN}"}`,
      TOKEN,
    ]) {
      expect(() => parseTokens(raw, undefined)).toThrow(/^CODEX_FLOW_BACKEND_TOKENS/);
      expect(() => parseTokens(raw, undefined)).not.toThrow(TOKEN);
    }
  });

  test("a file holds them when it is not readable by group or others; loadConfig says which variable", () => {
    const path = join(tempDir("codex-flows-tokens-"), "tokens.json");
    writeFileSync(path, JSON.stringify([{ name: "ci", token: TOKEN, role: "read" }]));
    chmodSync(path, 0o644);
    expect(() => loadConfig({ CODEX_FLOW_BACKEND_TOKENS: path })).toThrow(
      `CODEX_FLOW_BACKEND_TOKENS: ${path} is readable by group or others (mode 644): chmod 600 it`,
    );
    chmodSync(path, 0o600);
    expect(loadConfig({ CODEX_FLOW_BACKEND_TOKENS: path }).tokens).toEqual([
      { name: "ci", token: TOKEN, role: "read" },
    ]);
    expect(() => loadConfig({ CODEX_FLOW_BACKEND_TOKENS: "/nonexistent/tokens.json" })).toThrow(
      "cannot be read (ENOENT)",
    );
  });

  test("a role includes the ones before it", () => {
    expect([
      allows("read", "read"),
      allows("read", "operate"),
      allows("operate", "operate"),
      allows("operate", "admin"),
      allows("admin", "admin"),
    ]).toEqual([true, false, true, false, true]);
  });
});

describe("the projector's audit row", () => {
  const acted: OperatorActed = {
    v: 1,
    kind: "operator.acted",
    actionId: "abc",
    action: "cancel",
    actor: "ci",
    at: "2026-12-07T10:00:00.000Z",
    target: { runId: "run-1", flow: "release" },
    summary: "POST /runs/run-1/cancel",
    reason: "stuck",
    seq: 41,
  };
  const evolve = spec((message: OperatorActed, seq: number) => operatorActed(message, seq));
  test("given an operator.acted at sequence 42, then one audit row keyed by its action id, the same row when applied again", () => {
    const row = {
      action_id: "abc",
      seq: 42,
      at: acted.at,
      actor: "ci",
      action: "cancel" as const,
      run_id: "run-1",
      event_id: null,
      flow: "release",
      step: null,
      summary: "POST /runs/run-1/cancel",
      reason: "stuck",
      action_seq: 41,
    };
    evolve
      .given(42)
      .when(acted)
      .then([{ table: "audit", row }]);
    evolve
      .given(42)
      .when(structuredClone(acted))
      .then([{ table: "audit", row }]);
  });
});

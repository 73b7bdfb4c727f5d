// lib/webhooks: the pure mapping of a delivery to an event id and type, and the sources file (issue 24 item 3).
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, loadConfig } from "../lib/config.ts";
import { loadWebhookSources } from "../lib/webhooks/config.ts";
import { atPath, githubSource, MAX_PATH_KEYS, mapDelivery } from "../lib/webhooks/source.ts";
import { tempDir } from "./support/temp.ts";

const headers = (values: Record<string, string>) => new Headers(values);

describe("mapDelivery", () => {
  test("given GitHub's headers, then the delivery is the id and the event with the body's action the type", () => {
    const github = githubSource("s");
    expect(
      mapDelivery(
        github,
        headers({ "X-GitHub-Event": "pull_request", "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958" }),
        { action: "opened" },
      ),
    ).toEqual({
      ok: true,
      ping: false,
      id: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
      type: "github.pull_request.opened",
    });
    expect(mapDelivery(github, headers({ "X-GitHub-Event": "push", "X-GitHub-Delivery": "d1" }), {})).toMatchObject({
      ok: true,
      type: "github.push",
    });
    expect(
      mapDelivery(github, headers({ "X-GitHub-Event": "ping", "X-GitHub-Delivery": "d2" }), { zen: "z" }),
    ).toMatchObject({ ok: true, ping: true });
  });

  test("given values a subject token cannot carry (dots, spaces, wildcards), then each becomes _ and the type stays one segment per part", () => {
    const github = githubSource("s");
    expect(
      mapDelivery(github, headers({ "X-GitHub-Event": "push", "X-GitHub-Delivery": "d" }), { action: "a.b *>" }),
    ).toMatchObject({ type: "github.push.a_b___" });
    expect(
      mapDelivery(github, headers({ "X-GitHub-Event": "push", "X-GitHub-Delivery": "d" }), { action: 7 }),
    ).toMatchObject({ type: "github.push.7" });
    const long = mapDelivery(github, headers({ "X-GitHub-Event": "e", "X-GitHub-Delivery": "d" }), {
      action: "x".repeat(500),
    });
    expect(long.ok && long.type.length).toBe(200);
  });

  test("given no id or no first type part, then an error names where it was expected", () => {
    const github = githubSource("s");
    expect(mapDelivery(github, headers({ "X-GitHub-Event": "push" }), {})).toEqual({
      ok: false,
      error: "no event id: the delivery has no header x-github-delivery",
    });
    expect(mapDelivery(github, headers({ "X-GitHub-Delivery": "d" }), {})).toEqual({
      ok: false,
      error: "no event type: the delivery has no header x-github-event",
    });
  });

  test("atPath reads dotted keys of own properties only, at most MAX_PATH_KEYS deep", () => {
    const body = { a: { b: [{ c: "deep" }] } };
    expect(atPath(body, "a.b.0.c")).toBe("deep");
    expect(atPath(body, "a.constructor")).toBeUndefined();
    expect(atPath(body, "a.x.y")).toBeUndefined();
    let nested: unknown = "bottom";
    for (let i = 0; i < MAX_PATH_KEYS + 2; i++) nested = { k: nested };
    expect(
      atPath(
        nested,
        Array(MAX_PATH_KEYS + 2)
          .fill("k")
          .join("."),
      ),
    ).toBeUndefined();
  });
});

describe("loadWebhookSources", () => {
  const file = (toml: string) => {
    const path = join(tempDir("webhook-sources-"), "sources.toml");
    writeFileSync(path, toml);
    return path;
  };
  const source = (extra: string) =>
    `[[sources]]\nname = "gitea"\nsecret_env = "GITEA_WEBHOOK_SECRET"\nsignature = "hmac-sha256"\nsignature_header = "X-Gitea-Signature"\nid = "header:X-Gitea-Delivery"\ntype = ["header:X-Gitea-Event"]\n${extra}`;

  test("given a valid file, then each source has its secret from its variable; unset: no sources", () => {
    expect(loadWebhookSources(undefined, {})).toEqual([]);
    const [gitea] = loadWebhookSources(file(source("")), { GITEA_WEBHOOK_SECRET: "x" });
    expect(gitea).toMatchObject({
      name: "gitea",
      secret: "x",
      signature: { header: "x-gitea-signature", scheme: "hmac-sha256", prefix: "" },
      id: { header: "x-gitea-delivery" },
    });
  });

  test("given a mistake, then the error names the file, the source and the field", () => {
    const bad = [
      [
        source("").replace('"GITEA_WEBHOOK_SECRET"', '"GITEA_HOOK"'),
        "sources[0].secret_env: expected a name ending in _SECRET",
      ],
      [source("").replace('name = "gitea"', 'name = "github"'), "sources[0].name: expected a name no other source"],
      [source("").replace('"header:X-Gitea-Delivery"', '"body:a..b"'), "sources[0].id: expected"],
      [source("").replace('"hmac-sha256"', '"md5"'), 'sources[0].signature: expected "hmac-sha256" or "token"'],
      ["[[sources]\n", "CODEX_FLOW_WEBHOOK_SOURCES="],
    ];
    for (const [toml, message] of bad) expect(() => loadWebhookSources(file(toml!), {})).toThrow(message!);
  });

  test("given the variable names a file that is not there, then startup's configuration fails naming it", () => {
    expect(() => loadConfig({ CODEX_FLOW_WEBHOOK_SOURCES: "/nonexistent/webhooks.toml" })).toThrow(ConfigError);
    expect(() => loadConfig({ CODEX_FLOW_WEBHOOK_SOURCES: "/nonexistent/webhooks.toml" })).toThrow(
      "CODEX_FLOW_WEBHOOK_SOURCES=/nonexistent/webhooks.toml: ENOENT",
    );
    expect(loadConfig({ CODEX_FLOW_GITHUB_WEBHOOK_SECRET: "s" })).toMatchObject({
      githubWebhookSecret: "s",
      webhookSources: [],
    });
  });
});

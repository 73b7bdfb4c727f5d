// lib/runners/step-env.ts: which variables a step may see (docs/runners.md "The step's environment").
import { describe, expect, test } from "bun:test";
import { isWithheld, looksSecret } from "../lib/runners/step-env.ts";

describe("the secret-looking names", () => {
  test("given names ending in a secret's word (any case), then they look secret; names that merely contain one do not", () => {
    const secret = [
      "NOTIFY_WEBHOOK_SECRET",
      "GH_TOKEN",
      "OPENAI_API_KEY",
      "AWS_SECRET_ACCESS_KEY",
      "DB_PASSWORD",
      "SSH_PASSPHRASE",
      "GOOGLE_CREDENTIALS",
      "NATS_CREDS",
      "token",
      "Slack_Token",
    ];
    const plain = [
      "PATH",
      "HOME",
      "NOTIFY_WEBHOOK_URL",
      "KEYBOARD_LAYOUT",
      "TOKENIZER_DIR",
      "SSH_AUTH_SOCK",
      "MONKEY",
      "CODEX_FLOW_RUN_ID",
    ];
    expect(secret.filter((name) => !looksSecret(name))).toEqual([]);
    expect(plain.filter(looksSecret)).toEqual([]);
  });

  test("given a flow that names a secret-looking variable, then only that one passes; the system's secrets never do", () => {
    const passed = ["NOTIFY_WEBHOOK_SECRET", "CODEX_FLOW_BACKEND_SECRET", "CODEX_FLOW_GITHUB_WEBHOOK_SECRET"];
    expect(
      [
        "NOTIFY_WEBHOOK_SECRET",
        "GH_TOKEN",
        "CODEX_FLOW_BACKEND_SECRET",
        "CODEX_FLOW_GITHUB_WEBHOOK_SECRET",
        "NATS_URL",
        "PATH",
      ].map((name) => isWithheld(name, [], passed)),
    ).toEqual([false, true, true, true, true, false]);
    expect(isWithheld("PATH", ["PATH"], passed)).toBe(true);
  });
});

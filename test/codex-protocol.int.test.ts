// lib/codex/protocol.ts against the JSON Schema the pinned @openai/codex generates
// (`codex app-server generate-json-schema`, offline): what we send validates, every
// field we require of an answer is one upstream always sends, and every method we call
// or listen to exists (except the fork-only thread/codeMode/execute).
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TSchema } from "@sinclair/typebox";
import Ajv from "ajv";
import { CODE_MODE_EXECUTE } from "../lib/codex/code-mode.ts";
import { ClientRequests, type ParamsOf, ServerNotifications } from "../lib/codex/protocol.ts";

const CODEX = join(import.meta.dir, "..", "node_modules", ".bin", "codex");
const OUT = mkdtempSync(join(tmpdir(), "codex-schema-"));
afterAll(() => rmSync(OUT, { recursive: true, force: true }));
const generated = Bun.spawnSync([CODEX, "app-server", "generate-json-schema", "--out", OUT], {
  env: { ...process.env, CODEX_HOME: OUT },
});
type Json = Record<string, any>;
const upstream = (file: string): Json => JSON.parse(readFileSync(join(OUT, file), "utf8"));

/** Follows $ref into the document's definitions and drops the `null` arm of a nullable. */
function resolve(schema: Json, root: Json): Json {
  if (schema.$ref) return resolve(root.definitions[schema.$ref.split("/").pop()], root);
  const arms = (schema.anyOf ?? []).filter((arm: Json) => arm.type !== "null");
  return arms.length === 1 ? resolve(arms[0], root) : schema;
}

/** Problems where `ours` requires a field upstream may leave out, or names one upstream does not have. */
function differences(ours: Json, theirs: Json, root: Json, path: string): string[] {
  const mine = (ours.anyOf ?? []).filter((arm: Json) => arm.type !== "null");
  if (mine.length === 1) return differences(mine[0], theirs, root, path);
  const real = resolve(theirs, root);
  if (ours.type === "array") return differences(ours.items, real.items ?? {}, root, `${path}[]`);
  if (ours.type !== "object" || !ours.properties) return [];
  const keys = Object.keys(ours.properties);
  // A tagged union upstream (ThreadItem): compare with the variants that have every field we read.
  const variants: Json[] = real.oneOf
    ? real.oneOf.map((v: Json) => resolve(v, root)).filter((v: Json) => keys.every((k) => v.properties?.[k]))
    : [real];
  if (variants.length === 0) return [`${path}: no upstream variant has ${keys.join(", ")}`];
  return variants.flatMap((variant) => [
    ...(ours.required ?? [])
      .filter((key: string) => !variant.required?.includes(key))
      .map((key: string) => `${path}.${key}: required here, optional upstream`),
    ...keys.flatMap((key) =>
      variant.properties?.[key]
        ? differences(ours.properties[key], variant.properties[key], root, `${path}.${key}`)
        : [`${path}.${key}: not upstream`],
    ),
  ]);
}

const methods = (file: string): string[] => upstream(file).oneOf.flatMap((arm: Json) => arm.properties.method.enum);

describe("lib/codex/protocol.ts matches the pinned app-server's schema", () => {
  test("the schema was generated", () => {
    expect(generated.exitCode).toBe(0);
  });

  test("every method we call or listen to exists upstream, except the fork's", () => {
    const requests = methods("ClientRequest.json");
    expect(Object.keys(ClientRequests).filter((m) => !requests.includes(m))).toEqual([CODE_MODE_EXECUTE]);
    const notifications = methods("ServerNotification.json");
    expect(Object.keys(ServerNotifications).filter((m) => !notifications.includes(m))).toEqual([]);
  });

  test("the params we send validate against upstream's schemas", () => {
    const ajv = new Ajv({ strict: false, validateFormats: false });
    const sent: [string, unknown][] = [
      [
        "v1/InitializeParams.json",
        {
          clientInfo: { name: "codex-flows", title: "codex-flows", version: "0.1.0" },
          capabilities: { experimentalApi: true, requestAttestation: false },
        } satisfies ParamsOf<"initialize">,
      ],
      [
        "v2/ThreadStartParams.json",
        {
          cwd: "/srv",
          approvalPolicy: "never",
          sandbox: "danger-full-access",
          ephemeral: false,
        } satisfies ParamsOf<"thread/start">,
      ],
      [
        "v2/ThreadReadParams.json",
        { threadId: "01a20abb-9b28-7182-9b22-8ca18ee02e0e", includeTurns: true } satisfies ParamsOf<"thread/read">,
      ],
    ];
    for (const [file, params] of sent) {
      const validate = ajv.compile(upstream(file));
      expect([file, validate(params), validate.errors ?? []]).toEqual([file, true, []]);
    }
  });

  test("every field we require of an answer is one upstream always sends", () => {
    const answers: [string, TSchema][] = [
      ["v1/InitializeResponse.json", ClientRequests.initialize.result],
      ["v2/ThreadStartResponse.json", ClientRequests["thread/start"].result],
      ["v2/ThreadReadResponse.json", ClientRequests["thread/read"].result],
      ["v2/TurnCompletedNotification.json", ServerNotifications["turn/completed"]],
      ["v2/ItemCompletedNotification.json", ServerNotifications["item/completed"]],
      ["v2/AgentMessageDeltaNotification.json", ServerNotifications["item/agentMessage/delta"]],
      ["v2/CommandExecutionOutputDeltaNotification.json", ServerNotifications["item/commandExecution/outputDelta"]],
    ];
    for (const [file, ours] of answers) {
      const root = upstream(file);
      expect([file, differences(ours as Json, root, root, "")]).toEqual([file, []]);
    }
  });
});

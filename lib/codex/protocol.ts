import { type Static, type TSchema, Type } from "@sinclair/typebox";

/**
 * The part of the Codex app-server's JSON-RPC that codex-flows speaks, as TypeBox
 * schemas: the static types and the runtime checks of every result and notification we
 * read come from here. Shapes follow `codex app-server generate-ts` of @openai/codex
 * 0.169.0 (the pinned devDependency), narrowed to the fields we use; extra fields are
 * allowed, so newer servers and the fork pass. `thread/codeMode/execute` exists only in
 * the Peezy fork; its params are those the original backend's runner sent (seed/flows.md) (`threadId`, `source`)
 * and its result is not relied on: completion arrives as `turn/completed`.
 */

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const ClientInfo = Type.Object({ name: Type.String(), title: Nullable(Type.String()), version: Type.String() });
export const InitializeParams = Type.Object({
  clientInfo: ClientInfo,
  capabilities: Nullable(Type.Object({ experimentalApi: Type.Boolean(), requestAttestation: Type.Boolean() })),
});
export const InitializeResponse = Type.Object({ userAgent: Type.String(), codexHome: Type.Optional(Type.String()) });

export const ThreadStartParams = Type.Object({
  cwd: Type.String(),
  approvalPolicy: Type.Literal("never"),
  sandbox: Type.Union([Type.Literal("read-only"), Type.Literal("workspace-write"), Type.Literal("danger-full-access")]),
  ephemeral: Type.Boolean(),
});

/** One item of a turn; only agent messages are read (their `text`). */
export const ThreadItem = Type.Object({
  type: Type.String(),
  id: Type.Optional(Type.String()),
  text: Type.Optional(Type.String()),
});
export const TurnError = Type.Object({ message: Type.String() });
export const Turn = Type.Object({
  id: Type.String(),
  status: Type.String({ description: "completed | interrupted | failed | inProgress" }),
  error: Type.Optional(Nullable(TurnError)),
  items: Type.Optional(Type.Array(ThreadItem)),
});
export const Thread = Type.Object({ id: Type.String(), turns: Type.Optional(Type.Array(Turn)) });
export const ThreadStartResponse = Type.Object({ thread: Thread });
export const ThreadReadParams = Type.Object({ threadId: Type.String(), includeTurns: Type.Boolean() });
export const ThreadReadResponse = Type.Object({ thread: Thread });
export const CodeModeExecuteParams = Type.Object({ threadId: Type.String(), source: Type.String() });

/** Client -> server requests: method -> params and result schemas. */
export const ClientRequests = {
  initialize: { params: InitializeParams, result: InitializeResponse },
  "thread/start": { params: ThreadStartParams, result: ThreadStartResponse },
  "thread/read": { params: ThreadReadParams, result: ThreadReadResponse },
  "thread/codeMode/execute": { params: CodeModeExecuteParams, result: Type.Unknown() },
} as const;
export type ClientMethod = keyof typeof ClientRequests;
export type ParamsOf<M extends ClientMethod> = Static<(typeof ClientRequests)[M]["params"]>;
export type ResultOf<M extends ClientMethod> = Static<(typeof ClientRequests)[M]["result"]>;

const OutputDelta = Type.Object({
  threadId: Type.String(),
  turnId: Type.Optional(Type.String()),
  itemId: Type.Optional(Type.String()),
  delta: Type.String(),
});

/** Server -> client notifications we listen to: method -> params schema. */
export const ServerNotifications = {
  "turn/completed": Type.Object({ threadId: Type.String(), turn: Turn }),
  "item/completed": Type.Object({ threadId: Type.String(), turnId: Type.Optional(Type.String()), item: ThreadItem }),
  "item/agentMessage/delta": OutputDelta,
  "item/commandExecution/outputDelta": OutputDelta,
} as const;
export type NotificationMethod = keyof typeof ServerNotifications;
export type NotificationOf<N extends NotificationMethod> = Static<(typeof ServerNotifications)[N]>;

export type Turn = Static<typeof Turn>;
export type Thread = Static<typeof Thread>;
export type InitializeResponse = Static<typeof InitializeResponse>;

/** JSON-RPC 2.0 error codes the app-server uses. */
export const RpcErrorCode = { invalidRequest: -32600, methodNotFound: -32601, internalError: -32603 } as const;

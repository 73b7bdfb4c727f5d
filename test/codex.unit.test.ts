// The Codex JSON-RPC client and Code Mode helpers, in memory: no process, no pipe.
import { describe, expect, test } from "bun:test";
import { AppServerClient, ProtocolError } from "../lib/codex/client.ts";
import { agentMessageText, codeModeSource, isUnknownMethod, missingCodeModeError } from "../lib/codex/code-mode.ts";
import { ConnectionClosedError, JsonRpcError, JsonRpcPeer } from "../lib/codex/jsonrpc.ts";
import { FLOW_RESULT_PREFIX, parseFlowResult } from "../lib/protocol/flow-result.ts";

/** A client whose server side is this test: `sent` holds what the client wrote, `serve` feeds it lines. */
function connected() {
  const sent: Record<string, unknown>[] = [];
  let feed!: ReadableStreamDefaultController<Uint8Array>;
  const stdout = new ReadableStream<Uint8Array>({ start: (controller) => void (feed = controller) });
  const client = new AppServerClient({ stdin: { write: (line: string) => sent.push(JSON.parse(line)) }, stdout });
  const serve = (...messages: unknown[]) =>
    feed.enqueue(
      new TextEncoder().encode(`${messages.map((m) => (typeof m === "string" ? m : JSON.stringify(m))).join("\n")}\n`),
    );
  return { client, sent, serve, end: () => feed.close() };
}

describe("JSON-RPC peer", () => {
  test("given answers out of order, when they arrive, then each settles its own request", async () => {
    const { client, sent, serve } = connected();
    const first = client.peer.request("a", {});
    const second = client.peer.request("b", {});
    serve({ id: sent[1]!.id, result: "B" }, { id: sent[0]!.id, error: { code: -32600, message: "nope" } });
    expect(await second).toBe("B");
    const error = await first.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JsonRpcError);
    expect(error).toMatchObject({
      method: "a",
      code: -32600,
      rpcMessage: "nope",
      message: "a failed: nope (JSON-RPC error -32600)",
    });
    expect(sent.every((m) => !("jsonrpc" in m))).toBe(true); // as the app-server speaks it
  });

  test("given the connection ends, then waiting requests and later ones fail as closed", async () => {
    const { client, end } = connected();
    const waiting = client.peer.request("thread/start", {});
    end();
    await client.done;
    expect(await waiting.catch((e: unknown) => e)).toBeInstanceOf(ConnectionClosedError);
    expect(await client.peer.request("thread/read", {}).catch((e: unknown) => (e as Error).message)).toBe(
      "thread/read: connection closed (the server closed its output)",
    );
  });

  test("given a write that throws, the request fails as closed instead of waiting for ever", async () => {
    const peer = new JsonRpcPeer({
      write: () => {
        throw new Error("EPIPE");
      },
    });
    expect(await peer.request("initialize", {}).catch((e: unknown) => (e as Error).message)).toBe(
      "initialize: connection closed (write failed)",
    );
  });
});

describe("app-server client", () => {
  test("initialize is a request followed by the initialized notification, and its result is checked", async () => {
    const { client, sent, serve } = connected();
    const init = client.initialize("codex-flows", "0.1.0");
    await Bun.sleep(0);
    expect(sent[0]).toMatchObject({
      method: "initialize",
      params: { clientInfo: { name: "codex-flows", version: "0.1.0" }, capabilities: { experimentalApi: true } },
    });
    serve({ id: sent[0]!.id, result: { userAgent: "codex-flows/0.169.0 (Debian)" } });
    expect((await init).userAgent).toBe("codex-flows/0.169.0 (Debian)");
    expect(sent[1]).toEqual({ method: "initialized" });

    const started = client.request("thread/start", {
      cwd: "/w",
      approvalPolicy: "never",
      sandbox: "danger-full-access",
      ephemeral: false,
    });
    await Bun.sleep(0);
    serve({ id: sent[2]!.id, result: { thread: { id: 42 } } });
    const error = await started.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as Error).message).toBe("thread/start: unexpected result: /thread/id: Expected string");
  });

  test("notifications reach typed listeners; malformed ones are recorded, unknown ones ignored, garbage reported", async () => {
    const { client, serve, end } = connected();
    const deltas: string[] = [];
    client.on("item/agentMessage/delta", (params) => deltas.push(params.delta));
    serve(
      { method: "item/agentMessage/delta", params: { threadId: "t", turnId: "u", itemId: "i", delta: "hel" } },
      { method: "item/agentMessage/delta", params: { threadId: "t", delta: 5 } },
      { method: "thread/tokenUsage/updated", params: {} },
      "not json",
      { method: "item/agentMessage/delta", params: { threadId: "t", delta: "lo" } },
    );
    end();
    await client.done;
    expect(deltas).toEqual(["hel", "lo"]);
    expect(client.problems).toEqual([
      "item/agentMessage/delta: unexpected params: /delta: Expected string",
      "not a JSON-RPC message: not json",
    ]);
  });

  test("a server request it cannot answer is refused with an error naming the method", async () => {
    const { client, sent, serve } = connected();
    serve({ id: "srv-1", method: "item/commandExecution/requestApproval", params: {} });
    await Bun.sleep(5);
    expect(sent).toEqual([
      {
        id: "srv-1",
        error: {
          code: -32601,
          message: "codex-flows runs steps unattended and cannot answer item/commandExecution/requestApproval",
        },
      },
    ]);
    void client;
  });
});

describe("Code Mode source and results", () => {
  const flow = {
    name: "f",
    version: 1,
    root: "/r",
    step: "s",
    config: { quote: "\"'`${x}\u2028\n" },
    event: { id: "e" },
  };

  test("the prelude is one line that defines flow and result(), and result() prints a FLOW_RESULT parseFlowResult accepts", () => {
    const source = codeModeSource(
      flow,
      "text(flow.config.quote);\nresult({ status: 'changed', message: flow.event.id });\ntext('unreachable');",
    );
    expect(source.split("\n")[1]).toBe("text(flow.config.quote);");
    let printed = "";
    class Exit extends Error {}
    try {
      new Function("text", "exit", source)(
        (value: string) => (printed += value),
        () => {
          throw new Exit();
        },
      );
    } catch (error) {
      if (!(error instanceof Exit)) throw error;
    }
    expect(printed).toBe(`${flow.config.quote}\n${FLOW_RESULT_PREFIX}{"status":"changed","message":"e"}\n`);
    expect(parseFlowResult(printed)).toEqual({ ok: true, result: { status: "changed", message: "e" } });
  });

  test("agent messages are read from the completed turn, else from every turn", () => {
    const turns = [
      { id: "1", status: "completed", items: [{ type: "agentMessage", text: "old" }] },
      {
        id: "2",
        status: "completed",
        items: [
          { type: "userMessage", text: "x" },
          { type: "agentMessage", text: "a" },
          { type: "agentMessage", text: "b" },
        ],
      },
    ];
    expect(agentMessageText(turns, "2")).toBe("a\nb");
    expect(agentMessageText(turns, "9")).toBe("old\na\nb");
  });

  test("an unknown method is recognised in both ways servers say it", () => {
    expect(isUnknownMethod(new JsonRpcError("m", -32601, "Method not found"), "m")).toBe(true);
    expect(
      isUnknownMethod(
        new JsonRpcError("m", -32600, "Invalid request: unknown variant `thread/codeMode/execute`, expected one of"),
        "thread/codeMode/execute",
      ),
    ).toBe(true);
    expect(isUnknownMethod(new JsonRpcError("m", -32600, "invalid thread id"), "thread/codeMode/execute")).toBe(false);
    expect(isUnknownMethod(new Error("unknown variant thread/codeMode/execute"), "thread/codeMode/execute")).toBe(
      false,
    );
    expect(missingCodeModeError("codex", "codex-flows/0.169.0 (Debian 12; x86_64)")).toBe(
      "this Codex build (codex 0.169.0) lacks thread/codeMode/execute, the fork-only Code Mode method: set CODEX_APP_SERVER_CODEX_COMMAND to a Codex build that has it (now: codex)",
    );
  });
});

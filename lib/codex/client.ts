import { Value } from "@sinclair/typebox/value";
import { JsonRpcPeer, type RequestAnswer } from "./jsonrpc.ts";
import {
  type ClientMethod,
  ClientRequests,
  type InitializeResponse,
  type NotificationMethod,
  type NotificationOf,
  type ParamsOf,
  type ResultOf,
  RpcErrorCode,
  ServerNotifications,
} from "./protocol.ts";

/** The pipes of a running `codex app-server --listen stdio://`. */
export type AppServerPipes = {
  stdin: { write(chunk: string): unknown; flush?(): unknown };
  stdout: ReadableStream<Uint8Array>;
};

/** A result or notification that does not have the shape lib/codex/protocol.ts expects. */
export class ProtocolError extends Error {
  override name = "ProtocolError";
}

type Listener = (params: never) => void;

/**
 * A typed client for the Codex app-server: requests and notifications are checked
 * against lib/codex/protocol.ts, so the rest of the code sees typed values or a
 * ProtocolError, never a half-read object. Server requests it has no answer for are
 * refused with an error, because an unanswered one would stall the server's turn.
 */
export class AppServerClient {
  readonly peer: JsonRpcPeer;
  readonly problems: string[] = [];
  readonly done: Promise<void>;
  #listeners = new Map<string, Listener[]>();

  constructor(pipes: AppServerPipes) {
    this.peer = new JsonRpcPeer({
      write: (line) => {
        pipes.stdin.write(line);
        const flushed = pipes.stdin.flush?.();
        // A server that died turns the flush into a rejected promise; the closed connection reports it instead.
        if (flushed instanceof Promise) flushed.catch(() => {});
      },
      onNotification: (method, params) => this.#dispatch(method, params),
      onRequest: (method) => refuse(method),
      onProtocolError: (problem) => this.#problem(problem),
    });
    this.done = this.peer.readFrom(pipes.stdout);
  }

  /** Sends a request and checks the result's shape. */
  async request<M extends ClientMethod>(method: M, params: ParamsOf<M>): Promise<ResultOf<M>> {
    const result = await this.peer.request(method, params);
    const schema = ClientRequests[method].result;
    const first = Value.Errors(schema, result).First();
    if (first) throw new ProtocolError(`${method}: unexpected result: ${first.path || "result"}: ${first.message}`);
    return result as ResultOf<M>;
  }

  /** The handshake every connection starts with: `initialize`, then the `initialized` notification. */
  async initialize(name: string, version: string): Promise<InitializeResponse> {
    const response = await this.request("initialize", {
      clientInfo: { name, title: "codex-flows", version },
      capabilities: { experimentalApi: true, requestAttestation: false },
    });
    this.peer.notify("initialized");
    return response;
  }

  /** Calls `listener` with each well-formed notification of `method`; malformed ones are recorded in `problems`. */
  on<N extends NotificationMethod>(method: N, listener: (params: NotificationOf<N>) => void): void {
    const listeners = this.#listeners.get(method) ?? [];
    listeners.push(listener as Listener);
    this.#listeners.set(method, listeners);
  }

  #dispatch(method: string, params: unknown): void {
    const listeners = this.#listeners.get(method);
    if (!listeners) return; // the server sends many notifications we have no use for
    const schema = ServerNotifications[method as NotificationMethod];
    const first = Value.Errors(schema, params).First();
    if (first) {
      this.#problem(`${method}: unexpected params: ${first.path || "params"}: ${first.message}`);
      return;
    }
    for (const listener of listeners) listener(params as never);
  }

  #problem(problem: string): void {
    // Bounded: a server printing garbage for an hour must not grow memory.
    if (this.problems.length < 20) this.problems.push(problem);
  }
}

function refuse(method: string): RequestAnswer {
  return {
    error: {
      code: RpcErrorCode.methodNotFound,
      message: `codex-flows runs steps unattended and cannot answer ${method}`,
    },
  };
}

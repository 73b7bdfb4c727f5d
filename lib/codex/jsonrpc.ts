/**
 * JSON-RPC 2.0 over newline-delimited JSON, the way the Codex app-server speaks it on
 * stdio (no `"jsonrpc": "2.0"` member on the wire). Both directions carry requests:
 * the server asks the client things too (approvals, user input), and every such
 * request must be answered or the server waits for ever.
 */

export type RequestId = string | number;
export type RpcErrorBody = { code: number; message: string; data?: unknown };
/** How a server request is answered. */
export type RequestAnswer = { result: unknown } | { error: RpcErrorBody };

/** The server answered a request with an error. */
export class JsonRpcError extends Error {
  constructor(
    readonly method: string,
    readonly code: number,
    readonly rpcMessage: string,
    readonly data?: unknown,
  ) {
    super(`${method} failed: ${rpcMessage} (JSON-RPC error ${code})`);
    this.name = "JsonRpcError";
  }
}

/** The connection ended (the server exited or closed its stdout) before an answer came. */
export class ConnectionClosedError extends Error {
  constructor(
    readonly method: string,
    reason: string,
  ) {
    super(`${method}: connection closed (${reason})`);
    this.name = "ConnectionClosedError";
  }
}

export type PeerHandlers = {
  /** Sends one serialised message; throws when the other side is gone. */
  write(line: string): void;
  onNotification?(method: string, params: unknown): void;
  /** Answers a server request; without it every request is refused as method-not-found. */
  onRequest?(method: string, params: unknown): RequestAnswer;
  /** A line that is not JSON-RPC, or an answer nobody asked for. Reported, never thrown. */
  onProtocolError?(problem: string): void;
};

type Pending = { method: string; resolve(result: unknown): void; reject(error: Error): void };

/** One end of a JSON-RPC connection: sends requests and notifications, dispatches what arrives. */
export class JsonRpcPeer {
  #nextId = 1;
  #pending = new Map<RequestId, Pending>();
  #closed: string | undefined;

  constructor(private readonly handlers: PeerHandlers) {}

  /** Sends a request and resolves to its result; rejects with JsonRpcError or ConnectionClosedError. */
  request(method: string, params: unknown): Promise<unknown> {
    if (this.#closed !== undefined) return Promise.reject(new ConnectionClosedError(method, this.#closed));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { method, resolve, reject });
      if (!this.#send({ id, method, params })) {
        this.#pending.delete(id);
        reject(new ConnectionClosedError(method, "write failed"));
      }
    });
  }

  /** Sends a notification (no answer). False when it could not be written. */
  notify(method: string, params?: unknown): boolean {
    return this.#closed === undefined && this.#send(params === undefined ? { method } : { method, params });
  }

  /** Reads newline-delimited messages until the stream ends, then closes the peer. */
  async readFrom(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for await (const chunk of stream) {
        buffer += decoder.decode(chunk, { stream: true });
        for (let end = buffer.indexOf("\n"); end !== -1; end = buffer.indexOf("\n")) {
          this.receive(buffer.slice(0, end));
          buffer = buffer.slice(end + 1);
        }
      }
      this.receive(buffer + decoder.decode());
      this.close("the server closed its output");
    } catch (error) {
      this.close(`reading failed: ${(error as Error).message}`);
    }
  }

  /** Handles one line from the other side. */
  receive(line: string): void {
    const text = line.trim();
    if (text === "") return;
    let message: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not an object");
      message = parsed as Record<string, unknown>;
    } catch {
      this.handlers.onProtocolError?.(`not a JSON-RPC message: ${text.slice(0, 200)}`);
      return;
    }
    const id = message.id;
    const hasId = typeof id === "string" || typeof id === "number";
    if (typeof message.method === "string") {
      if (hasId) this.#answer(id, message.method, message.params);
      else this.handlers.onNotification?.(message.method, message.params);
    } else if (hasId && ("result" in message || "error" in message)) {
      this.#settle(id, message);
    } else {
      this.handlers.onProtocolError?.(`not a JSON-RPC message: ${text.slice(0, 200)}`);
    }
  }

  /** Rejects every request still waiting; later requests fail at once. */
  close(reason: string): void {
    if (this.#closed !== undefined) return;
    this.#closed = reason;
    for (const pending of this.#pending.values()) pending.reject(new ConnectionClosedError(pending.method, reason));
    this.#pending.clear();
  }

  #answer(id: RequestId, method: string, params: unknown): void {
    let answer: RequestAnswer = { error: { code: -32601, message: `method not handled by this client: ${method}` } };
    try {
      if (this.handlers.onRequest) answer = this.handlers.onRequest(method, params);
    } catch (error) {
      answer = { error: { code: -32603, message: `client failed to handle ${method}: ${(error as Error).message}` } };
    }
    this.#send({ id, ...answer });
  }

  #settle(id: RequestId, message: Record<string, unknown>): void {
    const pending = this.#pending.get(id);
    if (!pending) {
      this.handlers.onProtocolError?.(`an answer to unknown request id ${JSON.stringify(id)}`);
      return;
    }
    this.#pending.delete(id);
    const error = message.error as Partial<RpcErrorBody> | undefined;
    if (error !== undefined && error !== null) {
      const code = typeof error.code === "number" ? error.code : -32603;
      pending.reject(
        new JsonRpcError(
          pending.method,
          code,
          typeof error.message === "string" ? error.message : JSON.stringify(error),
          error.data,
        ),
      );
    } else {
      pending.resolve(message.result);
    }
  }

  #send(message: Record<string, unknown>): boolean {
    try {
      this.handlers.write(`${JSON.stringify(message)}\n`);
      return true;
    } catch {
      return false;
    }
  }
}

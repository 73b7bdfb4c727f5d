import type { Socket } from "bun";

/** A raw TCP connection to an HTTP server: for requests sent over one held connection, or held half-sent (slowloris). */
export type RawConnection = {
  /** Sends `GET path` with the given Host on this connection (keep-alive) and resolves with the status and body. */
  get(path: string, host?: string, timeoutMs?: number): Promise<{ status: number; body: string }>;
  write(text: string): void;
  close(): void;
};

/** Opens a TCP connection to 127.0.0.1:port; rejects when it cannot connect. */
export async function rawConnect(port: number): Promise<RawConnection> {
  let buffer = "";
  let wake: (() => void) | undefined;
  let closed = false;
  const socket: Socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data(_socket, bytes) {
        buffer += new TextDecoder().decode(bytes);
        wake?.();
      },
      close() {
        closed = true;
        wake?.();
      },
    },
  });
  return {
    async get(path, host = `127.0.0.1:${port}`, timeoutMs = 15_000) {
      buffer = "";
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: keep-alive\r\n\r\n`);
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const end = buffer.indexOf("\r\n\r\n");
        const length = Number(buffer.slice(0, Math.max(0, end)).match(/content-length:\s*(\d+)/i)?.[1] ?? Number.NaN);
        if (end >= 0 && buffer.length - end - 4 >= length) {
          return {
            status: Number(buffer.match(/^HTTP\/1\.1 (\d{3})/)?.[1]),
            body: buffer.slice(end + 4, end + 4 + length),
          };
        }
        if (closed) throw new Error(`connection closed before an answer to GET ${path}: ${JSON.stringify(buffer)}`);
        if (Date.now() > deadline)
          throw new Error(`no answer to GET ${path} within ${timeoutMs} ms: ${JSON.stringify(buffer)}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 200);
          wake = () => (clearTimeout(timer), resolve());
        });
      }
    },
    write: (text) => void socket.write(text),
    close: () => socket.end(),
  };
}

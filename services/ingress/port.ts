import { HintError } from "../../lib/hint.ts";

type Where = { host: string; port: number };

/** The busy-port refusal: one line naming the port and how to choose another. */
export function busyPort({ host, port }: Where): HintError {
  return new HintError(
    `port ${port} on ${host} is already in use (another flow dev or serve?): stop it, or choose another with --port or CODEX_FLOW_BACKEND_PORT`,
  );
}

const reserved = new Map<string, Bun.TCPSocketListener<undefined>>();
const keyOf = ({ host, port }: Where) => `${host}:${port}`;

/**
 * Binds the API's port at once, before any consumer starts: a process that cannot have
 * its port ends there, before it decides or runs anything. The ingress lets go of the
 * reservation just before it listens (releasePort). Port 0 (any free one) is never busy.
 */
export function reservePort(where: Where): void {
  if (where.port === 0 || reserved.has(keyOf(where))) return;
  try {
    reserved.set(
      keyOf(where),
      Bun.listen({ hostname: where.host, port: where.port, exclusive: true, socket: { data() {} } }),
    );
  } catch (error) {
    if ((error as { code?: string }).code === "EADDRINUSE" || /in use|failed to listen/i.test(String(error)))
      throw busyPort(where);
    throw error;
  }
}

/** Lets go of a reservation (before the ingress binds the port, or when a start fails). */
export function releasePort(where: Where): void {
  reserved.get(keyOf(where))?.stop(true);
  reserved.delete(keyOf(where));
}

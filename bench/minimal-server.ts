/**
 * The limit the ingress is compared with: a minimal Elysia app whose POST /events does
 * nothing but publish the raw body to JetStream (unique Nats-Msg-Id per request) and
 * answer 202. Its stream has the same settings as the real one (lib/nats/jetstream.ts), on
 * the same nats-server. Env: NATS_URL, PORT. Prints `ready <port>` on stdout once it listens.
 */
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { Elysia } from "elysia";
import { ensureStream } from "../lib/nats/jetstream.ts";

const STREAM = "BENCHMIN";
const SUBJECT = "benchmin.events.raw";

// As the services connect (lib/nats/jetstream.ts): no async traces, the cheapest publish.
const nc = await connect({ servers: process.env.NATS_URL, noAsyncTraces: true });
await ensureStream(await jetstreamManager(nc), {
  stream: STREAM,
  subjectPrefix: "benchmin",
  duplicateWindowMs: 120_000,
  maxAgeMs: 0,
  maxBytes: -1,
  replicas: 1,
});
const js = jetstream(nc);
let counter = 0;

const app = new Elysia()
  .get("/healthz", () => "ok")
  .post(
    "/events",
    async ({ request, set }) => {
      await js.publish(SUBJECT, new Uint8Array(await request.arrayBuffer()), { msgID: `${process.pid}-${++counter}` });
      set.status = 202;
      return "accepted";
    },
    { parse: "none" },
  )
  .listen({ hostname: "127.0.0.1", port: Number(process.env.PORT ?? 0) });

console.log(`ready ${app.server!.port}`);

const stop = async () => {
  await app.stop();
  await nc.drain();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

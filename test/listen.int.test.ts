import { expect, test } from "bun:test";
import { HintError } from "../lib/hint.ts";
import { startSystem } from "../services/runtime/system.ts";
import { testConfig, useNatsServer } from "./support/nats.ts";

const nats = useNatsServer();

test("the API binds its port alone: a second ingress (or any SO_REUSEPORT binder) gets a one-line error naming the port and --port", async () => {
  const first = await startSystem(testConfig(), nats.url, ["ingress", "projector"]);
  nats.cleanup(() => first.stop());
  const port = Number(new URL(first.ingressUrl!).port);
  const second = await startSystem(testConfig({ port }), nats.url, ["ingress"]).then(
    async (system) => (await system.stop(), undefined),
    (error: Error) => error,
  );
  expect(second).toBeInstanceOf(HintError);
  expect(second!.message).toContain(`port ${port}`);
  expect(second!.message).toContain("--port");
  expect(second!.message).not.toContain("\n");
  expect(() =>
    Bun.serve({ hostname: "127.0.0.1", port, reusePort: true, fetch: () => new Response("hijack") }),
  ).toThrow();
});

import { describe, expect, test } from "bun:test";
import { JetStreamApiError } from "@nats-io/jetstream";
import { errors, RequestError } from "@nats-io/nats-core";
import { backoffMs, passes } from "../services/ingress/publish.ts";

// Which publish failures the ingress rides out with the same message id (issue 24 item 1).
describe("passes: a failed publish worth trying again", () => {
  test("given no responders (wrapped as the client wraps it), a timeout or a request cut by a reconnect, then it passes", () => {
    const noResponders = new Error("jetstream is not enabled", {
      cause: new RequestError("no responders", { cause: new errors.NoRespondersError("FLOWS") }),
    });
    expect(passes(noResponders)).toBe(true);
    expect(passes(new errors.TimeoutError())).toBe(true);
    expect(passes(new RequestError("connection disconnected"))).toBe(true);
    expect(
      passes(
        new JetStreamApiError({ code: 503, err_code: 10008, description: "JetStream system temporarily unavailable" }),
      ),
    ).toBe(true);
  });

  test("given a refusal that will repeat (permissions, a closed connection, a 4xx from JetStream, an unknown error), then it does not pass", () => {
    expect(
      passes(
        new RequestError("denied", {
          cause: new errors.PermissionViolationError("Permissions Violation for Publish", "publish", "flows.events.x"),
        }),
      ),
    ).toBe(false);
    expect(passes(new errors.ClosedConnectionError())).toBe(false);
    expect(passes(new JetStreamApiError({ code: 400, err_code: 10054, description: "maximum payload exceeded" }))).toBe(
      false,
    );
    expect(passes(new Error("something else"))).toBe(false);
  });

  test("given retries, then the pause grows from 50 ms and stays at most 500 ms", () => {
    expect([0, 1, 2, 3, 4, 10].map(backoffMs)).toEqual([50, 100, 200, 400, 500, 500]);
  });
});

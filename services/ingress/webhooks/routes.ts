import { Elysia, t } from "elysia";
import { mapDelivery, type WebhookSource } from "../../../lib/webhooks/source.ts";
import { parseJson, readBody } from "../body.ts";
import type { IngressDeps } from "../deps.ts";
import { HttpError } from "../errors.ts";
import { eventAcceptor } from "../events/accept.ts";
import { EventAnswer, errors } from "../schemas.ts";
import { verifyDelivery } from "./verify.ts";

const Pong = t.Object({ status: t.Literal("pong"), source: t.String() });

/** The headers a route's mapping reads, as OpenAPI header parameters (GitHub's with their documented forms). */
function headerSchema(source: WebhookSource) {
  if (source.name === "github") {
    return t.Object(
      {
        "x-github-event": t.String({
          pattern: "^[a-z_]{1,64}$",
          description: "The event: push, release, pull_request, ping...",
        }),
        "x-github-delivery": t.String({
          pattern: "^[0-9A-Fa-f-]{1,64}$",
          description: "The delivery's GUID: the event id (a redelivery keeps it, so it is answered duplicate)",
        }),
      },
      { additionalProperties: true },
    );
  }
  const named = [source.id, ...source.type.slice(0, 1)].flatMap((from) => ("header" in from ? [from.header] : []));
  return t.Object(Object.fromEntries(named.map((name) => [name, t.String({ minLength: 1 })])), {
    additionalProperties: true,
  });
}

/**
 * `POST /webhooks/<source>`: a sender's own webhook (GitHub's built in, others by
 * CODEX_FLOW_WEBHOOK_SOURCES) taken directly, no relay: the signature checked over the
 * exact body, the id and type read as the source's mapping says, the whole body the
 * payload, then the same write path as POST /events (its checks, duplicates, publish
 * retries). A source without a secret is off: 404 naming the variable to set.
 */
export function webhookRoutes(deps: IngressDeps, sources: readonly WebhookSource[]) {
  const { accept, counted } = eventAcceptor(deps);
  const deliver = async (source: WebhookSource, request: Request, set: { status?: number | string }) => {
    if (!source.secret)
      throw new HttpError(
        404,
        `webhooks from ${source.name} are off on this ingress: set ${source.secretFrom} to the webhook's secret (docs/webhooks.md)`,
      );
    const body = await readBody(request, deps.maxBodyBytes);
    if (!verifyDelivery(source, body, request.headers)) {
      const how =
        source.signature.scheme === "token"
          ? "the configured token"
          : `${source.signature.prefix}<hex HMAC-SHA256 of the exact body>`;
      throw new HttpError(
        401,
        `missing or wrong signature: ${source.signature.header} must be ${how} (the secret in ${source.secretFrom})`,
      );
    }
    const payload = parseJson(body);
    if (typeof payload !== "object" || payload === null || Array.isArray(payload))
      throw new HttpError(400, "request body: expected a JSON object (the webhook's payload)");
    const delivery = mapDelivery(source, request.headers, payload);
    if (!delivery.ok) throw new HttpError(400, delivery.error);
    if (delivery.ping) {
      set.status = 200;
      return { status: "pong" as const, source: source.name };
    }
    set.status = 202;
    // No wait for the match: a sender gives up after seconds (GitHub: 10 s) and reads no runs.
    return await accept(
      { id: delivery.id, type: delivery.type, source: source.name, payload },
      new Date(),
      undefined,
      request.headers,
    );
  };
  const app = new Elysia({ name: "webhooks" });
  for (const source of sources) {
    const signed = source.name === "github" ? [{ githubSignature: [] }] : [];
    app.post(`/webhooks/${source.name}`, ({ request, set }) => counted(() => deliver(source, request, set)), {
      parse: "none",
      headers: headerSchema(source),
      response: { 200: Pong, 202: EventAnswer, ...errors(400, 401, 404, 413, 503, 507) },
      detail: {
        security: signed,
        tags: ["webhooks"],
        summary:
          source.name === "github"
            ? "GitHub's webhook, taken directly (docs/webhooks.md)"
            : `The ${source.name} webhook (CODEX_FLOW_WEBHOOK_SOURCES)`,
        description: `Signed in ${source.signature.header} with ${source.secretFrom}. 202 once the event is stored (duplicate for an id seen before), 200 for a ping, 401 unsigned or mis-signed, 404 when ${source.secretFrom} is unset, 503 with Retry-After while JetStream cannot take it.`,
        requestBody: {
          required: true,
          content: { "application/json": { schema: { type: "object", additionalProperties: true } } },
        },
      },
    });
  }
  return app;
}

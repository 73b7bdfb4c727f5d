import { createHash } from "node:crypto";
import { toOpenAPISchema } from "@elysiajs/openapi";
import type { AnyElysia } from "elysia";
import { Elysia } from "elysia";
import { type Access, OPERATOR_SECURITY, TOKEN_SECURITY } from "./auth.ts";
import { ErrorBody } from "./schemas.ts";
import { VIEWER_ASSETS } from "./viewer.ts";

const DOCUMENTATION = {
  info: {
    title: "codex-flows",
    version: "1",
    description: "Event-driven automation on NATS JetStream: accept FlowEvents, inspect and operate runs.",
  },
  tags: [
    { name: "events" },
    { name: "runs" },
    { name: "flows" },
    { name: "system" },
    { name: "webhooks" },
    { name: "audit" },
  ],
  components: {
    securitySchemes: {
      bearer: {
        type: "http",
        scheme: "bearer",
        description:
          "CODEX_FLOW_BACKEND_TOKEN or one of CODEX_FLOW_BACKEND_TOKENS, needed on reads and operations when set; each operation's x-required-role names the role it needs (read < operate < admin)",
      },
      apiKey: { type: "apiKey", in: "header", name: "x-api-key", description: "A token, as a header" },
      hmac: {
        type: "apiKey",
        in: "header",
        name: "x-flow-signature-256",
        description:
          "sha256=<hex HMAC-SHA256 of the exact body with CODEX_FLOW_BACKEND_SECRET>: needed on POST /events when the secret is set, and on operations when the secret is set and no token is",
      },
      githubSignature: {
        type: "apiKey",
        in: "header",
        name: "X-Hub-Signature-256",
        description:
          "sha256=<hex HMAC-SHA256 of the exact body with CODEX_FLOW_GITHUB_WEBHOOK_SECRET>, as GitHub signs its webhooks",
      },
    },
  },
};

/** Why each status an edge guard adds can be answered. */
const EDGE_STATUSES: Record<number, string> = {
  400: "the body or a parameter is invalid (named in `error`)",
  401: "the token (or, for operations with only a secret set, the body's signature) is missing or wrong",
  403: "a browser's cross-origin write (CODEX_FLOW_ALLOWED_ORIGINS), or the token's role or flows do not allow this operation (named in `error`)",
  413: "the body is larger than CODEX_FLOW_MAX_BODY_BYTES",
  415: "a body that is not content-type: application/json",
  421: "the Host is not loopback, an IP address, CODEX_FLOW_BACKEND_HOST or in CODEX_FLOW_ALLOWED_HOSTS (DNS rebinding)",
};

type RouteHooks = {
  beforeHandle?: { fn: unknown }[];
  parse?: { fn: unknown }[];
  detail?: { hide?: boolean; security?: unknown };
};
type Operation = {
  security?: unknown;
  responses?: Record<string, unknown>;
  description?: string;
  "x-required-role"?: Access;
};

/** The statuses the edge itself answers for a route, besides those its handler declares. */
export function edgeStatuses(method: string, access: Access | undefined, readsBody: boolean): number[] {
  const statuses = [421];
  if (access) statuses.push(401);
  if (method !== "GET") statuses.push(403, 415);
  else if (access && access !== "read") statuses.push(403);
  if (readsBody || (access && access !== "read")) statuses.push(400, 413);
  return statuses;
}

function accessOf(hooks: RouteHooks): Access | undefined {
  return hooks.beforeHandle?.map((h) => (h.fn as { access?: Access }).access).find((a) => a !== undefined);
}

/**
 * The OpenAPI document of `app`, completed in one place from the routes themselves:
 * each operation's `security` and `x-required-role` from its guard (read: a token;
 * operate and admin: a token of that role or the HMAC; none: open, unless the route
 * says otherwise, as POST /events does), and the
 * statuses the edge answers before its handler runs (421 Host, 401 guard, 403/415
 * browser writes, 400/413 bodies) beside the ones the route declares.
 */
export function openApiDocument(app: AnyElysia) {
  const generated = toOpenAPISchema(app);
  const paths = generated.paths as Record<string, Record<string, Operation>>;
  const error = JSON.parse(JSON.stringify(ErrorBody));
  for (const route of app.routes) {
    const hooks = (route.hooks ?? {}) as RouteHooks;
    const path = route.path.replace(/:(\w+)/g, "{$1}");
    const operation = paths[path]?.[route.method.toLowerCase()];
    if (!operation || hooks.detail?.hide) continue;
    const access = accessOf(hooks);
    operation.security =
      access === "read" ? TOKEN_SECURITY : access ? OPERATOR_SECURITY : (hooks.detail?.security ?? []);
    if (access) {
      operation["x-required-role"] = access;
      operation.description = [
        `Needs a token of role ${access} or above (docs/security.md) when tokens are set.`,
        operation.description,
      ]
        .filter(Boolean)
        .join(" ");
    }
    const readsBody = hooks.parse?.some((p) => p.fn === "none") ?? false;
    operation.responses ??= {};
    for (const status of edgeStatuses(route.method, access, readsBody)) {
      operation.responses[status] ??= {
        description: EDGE_STATUSES[status],
        content: { "application/json": { schema: error } },
      };
    }
  }
  return {
    ...DOCUMENTATION,
    openapi: "3.1.2",
    paths,
    components: { ...DOCUMENTATION.components, schemas: generated.components.schemas },
  };
}

/** The page's one inline script, allowed by its hash and nothing else inline. */
const START = 'window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui" });';

/** The viewer's Content-Security-Policy: this server's scripts and styles (and the start script by hash) only, never framed (clickjacking). */
export const VIEWER_CSP = `default-src 'none'; script-src 'self' 'sha256-${createHash("sha256").update(START).digest("base64")}'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`;

const PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>codex-flows API</title><link rel="stylesheet" href="${VIEWER_ASSETS}/swagger-ui.css"></head>
<body><div id="swagger-ui"></div><script src="${VIEWER_ASSETS}/swagger-ui-bundle.js"></script><script>${START}</script></body>
</html>
`;

/** GET /openapi.json (the document above, built once) and GET /openapi (Swagger UI from this server, with CSP and no framing). */
export function openApiRoutes(app: AnyElysia) {
  let document: ReturnType<typeof openApiDocument> | undefined;
  const page = () =>
    new Response(PAGE, {
      headers: {
        "content-type": "text/html; charset=utf-8",
        "content-security-policy": VIEWER_CSP,
        "x-frame-options": "DENY",
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "cache-control": "no-cache",
      },
    });
  return new Elysia({ name: "openapi" })
    .get("/openapi.json", () => (document ??= openApiDocument(app)), { detail: { hide: true } })
    .get("/openapi", page, { detail: { hide: true } });
}

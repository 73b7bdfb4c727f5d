import { dirname, join } from "node:path";
import { Elysia } from "elysia";

/** Where the /openapi page loads its script and styles from: this server. */
export const VIEWER_ASSETS = "/openapi/assets";

const DIST = dirname(Bun.resolveSync("swagger-ui-dist/package.json", import.meta.dir));
const FILES: Record<string, string> = {
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "swagger-ui.css": "text/css; charset=utf-8",
};

/** The /openapi viewer's two files, served from node_modules (swagger-ui-dist): the page works offline and trusts no CDN. */
export const viewerAssets = new Elysia({ name: "openapi-viewer-assets" }).get(
  `${VIEWER_ASSETS}/:file`,
  ({ params, set }) => {
    const type = FILES[params.file];
    if (!type) {
      set.status = 404;
      return { error: `no such asset: ${params.file}` };
    }
    return new Response(Bun.file(join(DIST, params.file)), {
      headers: { "content-type": type, "cache-control": "public, max-age=86400" },
    });
  },
  { detail: { hide: true } },
);

import { HintError } from "../../lib/hint.ts";
import { UsageError } from "../args.ts";
import { type HookDelivery, nextCursor, toRedeliver } from "./deliveries.ts";

export type RedeliverOptions = {
  repo?: string;
  hook?: string;
  since?: string;
  dryRun: boolean;
  apiUrl?: string;
  maxPages?: string;
};

/** GitHub's REST API base; GitHub Enterprise Server's is https://HOST/api/v3. */
export const DEFAULT_GITHUB_API = "https://api.github.com";
const PER_PAGE = 100;
const DEFAULT_MAX_PAGES = 50;

type Env = Record<string, string | undefined>;

function checked(options: RedeliverOptions, env: Env) {
  const repo = options.repo ?? "";
  if (!/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(repo))
    throw new UsageError(`--repo ${repo || "OWNER/REPO"}: expected OWNER/REPO, e.g. octo-org/hello-world`);
  const hook = options.hook ?? "";
  if (!/^\d{1,20}$/.test(hook))
    throw new UsageError(
      `--hook ${hook || "ID"}: expected the hook's numeric id (Settings > Webhooks > the hook: its URL ends with it)`,
    );
  const since = new Date(options.since ?? "");
  if (!options.since || Number.isNaN(since.getTime()))
    throw new UsageError(
      `--since ${options.since ?? "TIME"}: expected a date or an ISO-8601 time, e.g. 2026-12-07T10:00:00Z (GitHub keeps deliveries for 3 days)`,
    );
  const maxPages = Number(options.maxPages ?? DEFAULT_MAX_PAGES);
  if (!Number.isInteger(maxPages) || maxPages < 1 || maxPages > 1000)
    throw new UsageError(`--max-pages ${options.maxPages}: expected an integer from 1 to 1000`);
  const token = env.GH_TOKEN || env.GITHUB_TOKEN;
  if (!token)
    throw new UsageError(
      "no GitHub token: set GH_TOKEN (or GITHUB_TOKEN) to a token that may read and redeliver the hook's deliveries (repository Webhooks: read and write)",
    );
  const api = (options.apiUrl ?? env.CODEX_FLOW_GITHUB_API_URL ?? DEFAULT_GITHUB_API).replace(/\/+$/, "");
  if (!/^https?:\/\/[^\s]+$/.test(api))
    throw new UsageError(
      `--api-url ${api}: expected an http(s) URL such as ${DEFAULT_GITHUB_API} or https://github.example.com/api/v3`,
    );
  return { repo, hook, since, maxPages, token, api };
}

/**
 * `flow sources github redeliver --repo R --hook H --since T [--dry-run]`: lists the
 * hook's deliveries newest first (cursor pages of 100, stopping at --since or after
 * --max-pages), picks each failed delivery no later attempt of which succeeded, and
 * asks GitHub to redeliver it (POST .../deliveries/{id}/attempts, 202). Exit 0 when
 * every request was taken, 1 when any was refused.
 */
export async function redeliverGithub(
  options: RedeliverOptions,
  env: Env = process.env,
  print = console.log,
): Promise<number> {
  const { repo, hook, since, maxPages, token, api } = checked(options, env);
  const base = `${api}/repos/${repo}/hooks/${hook}/deliveries`;
  const headers = {
    accept: "application/vnd.github+json",
    authorization: `Bearer ${token}`,
    "x-github-api-version": "2022-11-28",
    "user-agent": "codex-flows",
  };
  const call = async (method: string, url: string) => {
    let response: Response;
    try {
      response = await fetch(url, { method, headers, signal: AbortSignal.timeout(30_000) });
    } catch (error) {
      throw new HintError(
        `cannot reach GitHub at ${api} (${(error as Error).message}); set --api-url or CODEX_FLOW_GITHUB_API_URL for GitHub Enterprise`,
      );
    }
    if (response.ok) return response;
    const message = ((await response.json().catch(() => ({}))) as { message?: string }).message ?? response.statusText;
    const why =
      response.status === 404
        ? ": no such repository or hook, or the token may not administer its webhooks"
        : response.status === 401
          ? ": the token is wrong or expired"
          : "";
    throw new HintError(`GitHub answered ${response.status} to ${method} ${url.replace(api, "")} (${message})${why}`);
  };

  const deliveries: HookDelivery[] = [];
  let cursor: string | undefined;
  let reachedSince = false;
  for (let page = 1; page <= maxPages && !reachedSince; page++) {
    const response = await call(
      "GET",
      `${base}?per_page=${PER_PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
    );
    const items = (await response.json()) as HookDelivery[];
    deliveries.push(...items);
    const oldest = items.at(-1)?.delivered_at;
    print(`page ${page}: ${items.length} deliveries${oldest ? ` back to ${oldest}` : ""}`);
    cursor = nextCursor(response.headers.get("link"));
    reachedSince = !cursor || (oldest !== undefined && Date.parse(oldest) < since.getTime());
    if (page === maxPages && !reachedSince)
      print(`stopped after --max-pages ${maxPages} before reaching --since: older deliveries were not examined`);
  }

  const chosen = toRedeliver(deliveries, since);
  print(
    `${chosen.length} failed ${chosen.length === 1 ? "delivery" : "deliveries"} since ${since.toISOString()} with no later success${options.dryRun ? " (dry run: nothing redelivered)" : ""}`,
  );
  let refused = 0;
  for (const delivery of chosen) {
    const what = `${delivery.id} ${delivery.guid} ${delivery.event}${delivery.action ? `.${delivery.action}` : ""} at ${delivery.delivered_at}: ${delivery.status_code || "no answer"} ${delivery.status}`;
    if (options.dryRun) {
      print(`would redeliver ${what}`);
      continue;
    }
    try {
      await call("POST", `${base}/${delivery.id}/attempts`);
      print(`redelivery requested for ${what}`);
    } catch (error) {
      refused++;
      console.error(`redelivery refused for ${what}: ${(error as Error).message}`);
    }
  }
  if (!options.dryRun && chosen.length > 0)
    print(`${chosen.length - refused} redelivery requests taken, ${refused} refused`);
  return refused > 0 ? 1 : 0;
}

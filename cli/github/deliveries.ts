/**
 * Which of a GitHub hook's deliveries to ask GitHub to send again (pure: the pages come
 * from cli/github/redeliver.ts). GitHub never redelivers by itself; its deliveries list
 * holds every attempt, newest first, a redelivery under the same guid as the original.
 */

/** One item of GET /repos/{owner}/{repo}/hooks/{hook_id}/deliveries, as GitHub documents it. */
export type HookDelivery = {
  id: number;
  guid: string;
  delivered_at: string;
  redelivery: boolean;
  status: string;
  status_code: number;
  event: string;
  action: string | null;
};

/** Whether the receiver took the delivery: a 2xx. A timeout or refused connection is status_code 0. */
export function succeeded(delivery: Pick<HookDelivery, "status_code">): boolean {
  return delivery.status_code >= 200 && delivery.status_code < 300;
}

/**
 * The deliveries to redeliver: per guid delivered at or after `since`, its newest failed
 * attempt, unless any attempt of that guid succeeded (a redelivery that went through:
 * the event is stored, and a second one would be a duplicate anyway). Oldest first, so
 * the receiver sees them in the order they happened.
 */
export function toRedeliver(deliveries: readonly HookDelivery[], since: Date): HookDelivery[] {
  const taken = new Set(deliveries.filter(succeeded).map((d) => d.guid));
  const newestFailed = new Map<string, HookDelivery>();
  for (const delivery of deliveries) {
    if (taken.has(delivery.guid) || Date.parse(delivery.delivered_at) < since.getTime()) continue;
    const seen = newestFailed.get(delivery.guid);
    if (!seen || Date.parse(delivery.delivered_at) > Date.parse(seen.delivered_at))
      newestFailed.set(delivery.guid, delivery);
  }
  return [...newestFailed.values()].sort(
    (a, b) => Date.parse(a.delivered_at) - Date.parse(b.delivered_at) || a.id - b.id,
  );
}

/** The `cursor` of a Link header's rel="next" URL (GitHub pages deliveries by cursor), or undefined on the last page. */
export function nextCursor(link: string | null): string | undefined {
  for (const part of (link ?? "").split(",").slice(0, 10)) {
    const match = /<([^>]+)>\s*;\s*rel="next"/.exec(part);
    if (match) return new URL(match[1]!).searchParams.get("cursor") ?? undefined;
  }
  return undefined;
}

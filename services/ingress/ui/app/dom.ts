/** Small DOM helpers: elements, times, statuses. Text always goes in as text, never as HTML. */

export type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | ((event: Event) => void)>;

/** An element with attributes (`on…` functions become listeners) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === "function") el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat())
    if (child !== null && child !== undefined && child !== false)
      el.append(typeof child === "number" ? String(child) : child);
  return el;
}

const SHORT = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const EXACT = new Intl.DateTimeFormat(undefined, {
  weekday: "long",
  year: "numeric",
  month: "long",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  fractionalSecondDigits: 3,
  timeZoneName: "short",
});

/** A time in the viewer's zone; hovering (or focusing) shows the exact time in that zone and in UTC. */
export function time(iso: string | null | undefined): Node {
  if (!iso) return h("span", { class: "muted" }, "–");
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return document.createTextNode(iso);
  return h(
    "time",
    { datetime: iso, title: `${EXACT.format(date)}\n${date.toISOString()}`, tabindex: 0 },
    SHORT.format(date),
  );
}

/** 850 ms, 12.3 s, 4 min 5 s, 2 h 3 min. */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "–";
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1_000)} s`;
  return `${Math.floor(ms / 3_600_000)} h ${Math.round((ms % 3_600_000) / 60_000)} min`;
}

/** A status as a labelled badge; colour is a hint, the word carries the meaning. */
export function badge(status: string, title?: string): HTMLElement {
  return h("span", { class: `badge s-${status.replace(/[^a-z_]/g, "")}`, title }, status.replace(/_/g, " "));
}

/** JSON, pretty-printed, in a scrollable block. */
export function jsonBlock(value: unknown): HTMLElement {
  return h("pre", { class: "json", tabindex: 0 }, JSON.stringify(value, null, 2));
}

/** Replaces a container's content. */
export function show(container: Element, ...children: (Child | Child[])[]): void {
  container.replaceChildren(
    ...children
      .flat()
      .filter((c): c is Node | string => c !== null && c !== undefined && c !== false)
      .map((c) => (typeof c === "number" ? String(c) : c)),
  );
}

/**
 * Replaces a container's content and, when focus was on a link (or a keyed button)
 * inside it, puts focus back on the link to the same place (the button of that key), so a live update does not throw a keyboard user
 * back to the top of the page.
 */
export function showKeepingFocus(container: Element, ...children: (Child | Child[])[]): void {
  const active = document.activeElement;
  const inside = active && container.contains(active);
  // A link by where it goes; a button by its data-key (e.g. "pause ticker").
  const href = inside ? active.getAttribute("href") : null;
  const key = inside ? active.getAttribute("data-key") : null;
  show(container, ...children);
  if (href) container.querySelector<HTMLElement>(`[href="${CSS.escape(href)}"]`)?.focus({ preventScroll: true });
  else if (key) container.querySelector<HTMLElement>(`[data-key="${CSS.escape(key)}"]`)?.focus({ preventScroll: true });
}

/** An error as a person reads it, in an alert region. */
export function errorBox(error: unknown): HTMLElement {
  return h("div", { class: "error", role: "alert" }, error instanceof Error ? error.message : String(error));
}

/** A link to a dashboard page. */
export function link(href: string, ...children: Child[]): HTMLAnchorElement {
  return h("a", { href }, ...children);
}

/** A table wrapped so it scrolls sideways on a narrow screen instead of squeezing. */
export function table(head: string[], rows: Node[], caption?: string): HTMLElement {
  return h(
    "div",
    { class: "table-wrap", tabindex: 0, role: "region", "aria-label": caption ?? head.join(", ") },
    h(
      "table",
      {},
      caption ? h("caption", {}, caption) : null,
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          head.map((c) => h("th", { scope: "col" }, c)),
        ),
      ),
      h("tbody", {}, rows),
    ),
  );
}

import { h } from "./dom.ts";

/** Schema reasons (`schema: /repo must be string`) by the payload path they name. */
export function errorsByPath(reasons: { step: string; reason: string }[]): Map<string, string[]> {
  const byPath = new Map<string, string[]>();
  for (const { step, reason } of reasons) {
    const m = /^schema: (\/\S*) (.*)$/.exec(reason);
    if (!m) continue;
    const path = m[1] === "/" ? "" : m[1]!;
    byPath.set(path, [...(byPath.get(path) ?? []), `${step}: ${m[2]}`]);
  }
  return byPath;
}

const MAX_NODES = 2_000;

/**
 * The payload as a tree, each value beside its JSON pointer, with the schema errors
 * of that path shown against it (and errors for paths the payload does not have, such
 * as a missing required property, against the nearest parent that exists).
 */
export function payloadTree(payload: unknown, errors: Map<string, string[]>): HTMLElement {
  let nodes = 0;
  const shown = new Set<string>();
  const notes = (path: string) => {
    const list = errors.get(path);
    if (!list) return null;
    shown.add(path);
    return h(
      "ul",
      { class: "schema-errors", "aria-label": `schema errors at ${path || "/"}` },
      list.map((e) => h("li", {}, e)),
    );
  };
  const node = (value: unknown, path: string, key: string | null): HTMLElement => {
    nodes++;
    const label = key === null ? null : h("span", { class: "key" }, `${key}: `);
    const flagged = errors.has(path);
    if (nodes > MAX_NODES) return h("li", {}, "…");
    if (value !== null && typeof value === "object") {
      const entries = Array.isArray(value)
        ? value.map((v, i) => [String(i), v] as const)
        : Object.entries(value as Record<string, unknown>);
      return h(
        "li",
        { class: flagged ? "flagged" : null, "data-path": path || "/" },
        label,
        Array.isArray(value) ? `[${entries.length}]` : "{…}",
        notes(path),
        h(
          "ul",
          {},
          entries.map(([k, v]) => node(v, `${path}/${k.replace(/~/g, "~0").replace(/\//g, "~1")}`, k)),
        ),
      );
    }
    return h(
      "li",
      { class: flagged ? "flagged" : null, "data-path": path || "/" },
      label,
      h("code", {}, JSON.stringify(value)),
      notes(path),
    );
  };
  const root = h("ul", { class: "payload" }, node(payload, "", null));
  const orphans = [...errors.entries()].filter(([path]) => !shown.has(path));
  if (orphans.length)
    root.append(
      h(
        "li",
        { class: "flagged", "data-path": "other" },
        h("span", { class: "key" }, "not in the payload: "),
        h(
          "ul",
          { class: "schema-errors" },
          orphans.flatMap(([path, list]) => list.map((e) => h("li", {}, `${path}: ${e}`))),
        ),
      ),
    );
  return root;
}

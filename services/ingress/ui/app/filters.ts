import { type Child, h } from "./dom.ts";
import { navigate } from "./nav.ts";

/** A labelled text input of a filter form (`#f-NAME`), its value from the URL; times get an example. */
export function filterField(params: URLSearchParams, name: string, label: string): HTMLElement {
  return h(
    "div",
    { class: "field" },
    h("label", { for: `f-${name}` }, label),
    h("input", {
      id: `f-${name}`,
      name,
      value: params.get(name) ?? "",
      autocomplete: "off",
      placeholder: name === "since" || name === "until" ? "2026-12-01T10:00:00Z" : null,
    }),
  );
}

/**
 * A listing's filter form: its fields, then Apply and Clear. Applying goes to `path` with
 * the non-empty values in the URL (so a shared link shows the same view); Clear to `path`.
 */
export function filterForm(path: string, label: string, fields: Child[]): HTMLFormElement {
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": label },
    ...fields,
    h(
      "div",
      { class: "field actions" },
      h("button", { type: "submit" }, "Apply"),
      h("a", { href: path, class: "button secondary" }, "Clear"),
    ),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const next = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (String(v).trim()) next.set(k, String(v).trim());
    navigate(`${path}${next.size ? `?${next}` : ""}`);
  });
  return form;
}

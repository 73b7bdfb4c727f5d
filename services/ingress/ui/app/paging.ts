import { h } from "./dom.ts";

/** The links between pages of a listing: "« Newest" when not on the first, "Older »" when the API gave a next cursor. */
export function pagingNav(
  path: string,
  params: URLSearchParams,
  nextCursor: string | undefined,
  label: string,
): HTMLElement {
  const here = new URLSearchParams(params);
  const paging = h("nav", { class: "paging", "aria-label": label });
  if (params.get("cursor")) {
    here.delete("cursor");
    paging.append(h("a", { href: `${path}?${here}` }, "« Newest"));
  }
  if (nextCursor) {
    here.set("cursor", nextCursor);
    paging.append(h("a", { href: `${path}?${here}`, rel: "next" }, "Older »"));
  }
  return paging;
}

/** Moves to a dashboard URL without reloading (main.ts renders on the popstate this sends). */
export function navigate(href: string): void {
  history.pushState(null, "", href);
  dispatchEvent(new PopStateEvent("popstate"));
  document.getElementById("main")?.focus({ preventScroll: true });
}

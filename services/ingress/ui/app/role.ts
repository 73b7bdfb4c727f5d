import { get, TokenNeeded } from "./api.ts";

type WhoAmI = { name: string; role: "read" | "operate" | "admin"; flows: string[] | null };

let known: Promise<void> | undefined;
/** The only flows this token may act on (null: every flow). */
let scope: string[] | null = null;

/** Hides the actions (`data-flow`: the flow they act on, "" for none in particular) a scoped token may not take. */
function hideOutOfScope(root: ParentNode): void {
  for (const el of root.querySelectorAll<HTMLElement>("[data-needs][data-flow]"))
    el.hidden = scope !== null && !scope.includes(el.dataset.flow ?? "");
}

// Pages redraw as the read model changes: every new action is checked as it appears.
new MutationObserver(() => hideOutOfScope(document.body)).observe(document.body, { childList: true, subtree: true });

/**
 * Learns who this tab's token is (GET /whoami) and marks <body> with its role, so the
 * stylesheet hides the actions the role may not take (`data-needs="operate"` or
 * `"admin"`), and hides those on flows a scoped token may not touch. Asked once per token; `forget` after a new token is entered. A 401 is
 * passed on (the page shows the token form); any other failure leaves every action
 * shown, and the API still refuses what the role may not do.
 */
export function learnRole(): Promise<void> {
  known ??= get<WhoAmI>("/whoami").then(
    (me) => {
      document.body.dataset.role = me.role;
      document.body.dataset.actor = me.name;
      scope = me.flows;
      hideOutOfScope(document.body);
    },
    (error: unknown) => {
      known = undefined;
      if (error instanceof TokenNeeded) throw error;
    },
  );
  return known;
}

/** Forgets the role learnt (a new token was entered). */
export function forgetRole(): void {
  known = undefined;
  scope = null;
  delete document.body.dataset.role;
  delete document.body.dataset.actor;
}

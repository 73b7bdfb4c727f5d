import { get, TokenNeeded } from "./api.ts";

type WhoAmI = { name: string; role: "read" | "operate" | "admin"; flows: string[] | null };

let known: Promise<void> | undefined;

/**
 * Learns who this tab's token is (GET /whoami) and marks <body> with its role, so the
 * stylesheet hides the actions the role may not take (`data-needs="operate"` or
 * `"admin"`). Asked once per token; `forget` after a new token is entered. A 401 is
 * passed on (the page shows the token form); any other failure leaves every action
 * shown, and the API still refuses what the role may not do.
 */
export function learnRole(): Promise<void> {
  known ??= get<WhoAmI>("/whoami").then(
    (me) => {
      document.body.dataset.role = me.role;
      document.body.dataset.actor = me.name;
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
  delete document.body.dataset.role;
  delete document.body.dataset.actor;
}

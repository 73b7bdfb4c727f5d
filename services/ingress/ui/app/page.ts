/** What a page is given: where to draw, its query, when to stop, and how to report. */
export type PageContext = {
  main: HTMLElement;
  params: URLSearchParams;
  signal: AbortSignal;
  /** Shows an error at the top of the page (one at a time), or the token form on a 401. */
  fail(error: unknown): void;
  /** Clears the error shown by `fail` after a read succeeded again. */
  ok(): void;
  live(ok: boolean, problem?: string): void;
};

/**
 * A failure the user can fix, told in one line that says what to do (a busy port, an
 * unreachable NATS, a missing directory): the CLI prints the message, never a stack.
 */
export class HintError extends Error {}

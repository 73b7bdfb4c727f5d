/**
 * What the CLI prints of user data (payload text in a step's output, a run's error, event
 * ids) goes to a terminal that obeys escape sequences: an ESC or CSI in it could set the
 * window title, clear the screen or fake colours. On a terminal, control characters are
 * shown escaped instead; piped or redirected output stays byte for byte what was recorded.
 */

// C0 controls, DEL and the C1 controls (U+0080-U+009F; U+009B is a one-character CSI).
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;
// The same without tab and newline, which a body of output keeps.
const CONTROLS_IN_BODY = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/** `text` with every control character written as `\xHH`; with `body`, tab and newline are left as they are. */
export function escapeControls(text: string, body = false): string {
  return text.replace(body ? CONTROLS_IN_BODY : CONTROLS, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/** Prints `value` as JSON on one line; on a terminal, DEL and the C1 controls (which JSON.stringify leaves raw) as `\u00HH`: still JSON, the same value. */
export function printJsonLine(value: unknown): void {
  const text = JSON.stringify(value);
  console.log(
    process.stdout.isTTY ? text.replace(/[\u007f-\u009f]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`) : text,
  );
}

/** Writes `text` to `stream`, escaped as by escapeControls when the stream is a terminal. */
export function writeSafely(stream: NodeJS.WriteStream, text: string, body = false): void {
  stream.write(stream.isTTY ? escapeControls(text, body) : text);
}

/** console.log of a line of user data (a newline in it is escaped too on a terminal). */
export function printLine(text: string): void {
  console.log(process.stdout.isTTY ? escapeControls(text) : text);
}

/** A line of user data on stderr (written as is: Bun's console.error would colour it on a terminal). */
export function printErrorLine(text: string): void {
  process.stderr.write(`${process.stderr.isTTY ? escapeControls(text) : text}\n`);
}

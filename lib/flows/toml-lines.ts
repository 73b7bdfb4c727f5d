/**
 * Where a manifest's field is written: the line of `steps[1].trigger.type` in a
 * flow.toml's text, so an error can say which line to fix. smol-toml gives positions for
 * syntax errors only; this follows the tables (`[x]`, `[[steps]]`, counted) and keys
 * (`a = ...`, `a.b = ...`) of each line. A field that is not written (a missing key) gets
 * the line of the nearest table that holds it.
 */

const HEADER = /^\s*(\[\[?)\s*([A-Za-z0-9_.\-"' ]+?)\s*\]\]?\s*(#.*)?$/;
const KEY = /^\s*([A-Za-z0-9_\-"' .]+?)\s*=/;

/** A dotted key as written (`a . "b"`) as plain segments. */
function segments(key: string): string[] {
  return key.split(".").map((part) => part.trim().replace(/^["']|["']$/g, ""));
}

/** The 1-based line where `field` (e.g. `steps[1].timeout_ms`) is written, or where the table that should hold it starts; undefined when neither is. */
export function fieldLine(text: string, field: string): number | undefined {
  const counts = new Map<string, number>();
  let table = "";
  let best: { line: number; length: number } | undefined;
  let inMultiline = false;
  const consider = (path: string, line: number) => {
    const covers = field === path || field.startsWith(`${path}.`) || field.startsWith(`${path}[`);
    if (covers && path.length > (best?.length ?? -1)) best = { line, length: path.length };
  };
  const lines = text.split("\n");
  // One pass over the text: bounded by its lines.
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const quotes = (line.match(/"""|'''/g) ?? []).length;
    if (inMultiline) {
      if (quotes % 2 === 1) inMultiline = false;
      continue;
    }
    const header = line.match(HEADER);
    if (header) {
      const parts = segments(header[2]!);
      // An array of tables gets the next index; a table inside one belongs to its newest element.
      let path = "";
      for (const [n, part] of parts.entries()) {
        path = path ? `${path}.${part}` : part;
        const last = n === parts.length - 1;
        if (last && header[1] === "[[") counts.set(path, (counts.get(path) ?? -1) + 1);
        if (counts.has(path)) path = `${path}[${counts.get(path)}]`;
      }
      table = path;
      consider(table, i + 1);
      continue;
    }
    const key = line.match(KEY);
    if (key && !line.trimStart().startsWith("#")) {
      consider(table ? `${table}.${segments(key[1]!).join(".")}` : segments(key[1]!).join("."), i + 1);
      if (quotes % 2 === 1) inMultiline = true;
    }
  }
  return best?.line;
}

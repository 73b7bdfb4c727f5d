/**
 * A CLI table as printed to a pipe (docs/cli.md: a header row, then one line a row, the
 * columns aligned two spaces apart, cells whole): each row as { HEADER: cell }, cut at
 * the offsets where the header's names start. Throws when the text has no header row.
 */
export function tableRows(text: string): Record<string, string>[] {
  const [header, ...rows] = text.split("\n").filter((line) => line !== "");
  if (!header) throw new Error(`no table in ${JSON.stringify(text)}`);
  // A header name may hold one space (EVENT TYPE); columns are two or more apart.
  const starts = [...header.matchAll(/\S+(?: \S+)*/g)].map((m) => ({ name: m[0], at: m.index }));
  return rows.map((row) =>
    Object.fromEntries(
      starts.map(({ name, at }, i) => [name, row.slice(at, starts[i + 1]?.at ?? row.length).trimEnd()]),
    ),
  );
}

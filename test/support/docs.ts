import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";

const REPO = resolve(import.meta.dir, "../..");

/** A file of the repository (a doc, a unit, a script) as text. */
export function readRepoFile(path: string): string {
  return readFileSync(join(REPO, path), "utf8");
}

/** The bash blocks of a doc, in order, as a reader copies them (a list item's indentation removed). */
export function bashBlocks(doc: string): string[] {
  return [...readRepoFile(doc).matchAll(/^( *)```bash\n([\s\S]*?)^ *```/gm)].map(([, indent, body]) =>
    body!
      .split("\n")
      .map((line) => line.slice(indent!.length))
      .join("\n")
      .trim(),
  );
}

/** The one bash block of `doc` that contains `marker`; throws when none or several do, so a renamed command fails loudly. */
export function bashBlock(doc: string, marker: string): string {
  const found = bashBlocks(doc).filter((block) => block.includes(marker));
  if (found.length !== 1)
    throw new Error(`${doc}: expected one bash block with ${JSON.stringify(marker)}, found ${found.length}`);
  return found[0]!;
}

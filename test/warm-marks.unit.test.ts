// Cutting a warm worker's stream per run at its end-of-run marks (lib/runners/warm/marks.ts).
import { describe, expect, test } from "bun:test";
import { MARK_PREFIX, RunMarks } from "../lib/runners/warm/marks.ts";

const NONCE = "n0nce";
const mark = (code: number) => `${MARK_PREFIX}${NONCE}:${code}\n`;

/** Feeds `chunks` and returns the runs seen: each run's output and code, then what is left after the last mark. */
function cut(chunks: string[]): { runs: { out: string; code: number }[]; rest: string } {
  const marks = new RunMarks(NONCE);
  const runs: { out: string; code: number }[] = [];
  let out = "";
  const take = (bytes: Uint8Array) => (out += Buffer.from(bytes).toString());
  for (const chunk of chunks) marks.push(Buffer.from(chunk), take, (code) => (runs.push({ out, code }), (out = "")));
  marks.flush(take);
  return { runs, rest: out };
}

describe("RunMarks", () => {
  test("given two runs in one chunk, when cut, then each run gets its own output and code", () => {
    expect(cut([`one\n${mark(0)}two\n${mark(1)}`])).toEqual({
      runs: [
        { out: "one\n", code: 0 },
        { out: "two\n", code: 1 },
      ],
      rest: "",
    });
  });

  test("given a mark split across every byte, when cut, then it is still found and none of it is output", () => {
    const text = `a line without newline${mark(0)}after`;
    expect(cut([...text])).toEqual({ runs: [{ out: "a line without newline", code: 0 }], rest: "after" });
  });

  test("given output that begins like a mark but is not one, when cut, then it is output", () => {
    const almost = `${MARK_PREFIX}other:0\n`;
    expect(cut([almost.slice(0, 5), almost.slice(5), mark(0)])).toEqual({ runs: [{ out: almost, code: 0 }], rest: "" });
    const badCode = `${MARK_PREFIX}${NONCE}:x\n`;
    expect(cut([badCode, mark(0)]).runs).toEqual([{ out: badCode, code: 0 }]);
  });

  test("given a stream that ends inside a possible mark, when flushed, then the held bytes are output", () => {
    expect(cut(["tail", MARK_PREFIX.slice(0, 4)])).toEqual({ runs: [], rest: `tail${MARK_PREFIX.slice(0, 4)}` });
  });
});

import { h } from "./dom.ts";

/** lib/protocol/flow-result.ts's FLOW_RESULT_PREFIX (not imported: that module would bundle TypeBox into the page). */
const RESULT_PREFIX = "FLOW_RESULT ";
/** A line longer than this is folded to a few wrapped rows, with a button that shows it all. */
export const LONG_LINE = 300;

/**
 * A run's output pane, written chunk by chunk as the output stream delivers it. Each
 * line is its own element, so a long one is folded (CSS wraps it, up to a few rows,
 * and "show all" unfolds it) and the step's FLOW_RESULT line is not shown as output:
 * a note points to the Result section, which shows it as pretty JSON.
 */
export function outputPane(pre: HTMLElement): {
  write(text: string, stream?: string): void;
  note(text: string): void;
  end(): void;
  clear(): void;
} {
  // The line each stream is still writing (no newline yet), while it is the pane's last.
  const open = new Map<string, HTMLElement>();

  const finish = (line: HTMLElement) => {
    const text = line.textContent ?? "";
    if (text.startsWith(RESULT_PREFIX)) {
      line.className = "line flow-result-line";
      line.replaceChildren(
        h(
          "a",
          { href: "#result" },
          `FLOW_RESULT (${text.trimEnd().length - RESULT_PREFIX.length} characters of JSON): shown as the result above`,
        ),
        "\n",
      );
      return;
    }
    if (text.length <= LONG_LINE) return;
    line.classList.add("long", "folded");
    const toggle = h(
      "button",
      { type: "button", class: "show-all", "aria-expanded": "false" },
      `show all (${text.trimEnd().length} characters)`,
    );
    toggle.addEventListener("click", () => {
      const folded = line.classList.toggle("folded");
      toggle.setAttribute("aria-expanded", String(!folded));
      toggle.textContent = folded ? `show all (${text.trimEnd().length} characters)` : "fold";
    });
    line.after(toggle);
  };
  const flush = () => {
    for (const line of open.values()) finish(line);
    open.clear();
  };

  return {
    write(text, stream = "stdout") {
      let rest = text;
      // Bounded by the chunk: each pass consumes up to one newline.
      while (rest !== "") {
        const newline = rest.indexOf("\n");
        const piece = newline === -1 ? rest : rest.slice(0, newline + 1);
        rest = newline === -1 ? "" : rest.slice(newline + 1);
        let line = open.get(stream);
        if (!line || line !== pre.lastChild) {
          if (line) finish(line);
          line = h("span", { class: stream === "stderr" ? "line stderr" : "line" });
          pre.append(line);
          open.set(stream, line);
        }
        line.append(piece);
        if (newline !== -1) {
          open.delete(stream);
          finish(line);
        }
      }
      pre.scrollTop = pre.scrollHeight;
    },
    note(text) {
      flush();
      pre.append(h("span", { class: "line muted" }, text));
    },
    end: flush,
    clear() {
      open.clear();
      pre.textContent = "";
    },
  };
}

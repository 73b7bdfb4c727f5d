/** Small charts drawn as SVG by hand (nothing fetched): each with a title per mark and a text alternative. */

type Attrs = Record<string, string | number>;
const NS = "http://www.w3.org/2000/svg";

/** An SVG element with attributes and children. */
export function svg(tag: string, attrs: Attrs = {}, ...children: (Node | null)[]): SVGElement {
  const el = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  for (const child of children) if (child) el.append(child);
  return el;
}

/** A tooltip for a mark: what a pointer's hover shows and a screen reader reads. */
function titled(el: SVGElement, text: string): SVGElement {
  el.prepend(svg("title", {}, document.createTextNode(text)));
  return el;
}

export type Stack = { label: string; counts: Record<string, number> };

/** The chart with its scale and first and last bucket's labels under it. */
export function stackedChart(stacks: Stack[], order: string[], label: string): HTMLElement {
  const max = Math.max(1, ...stacks.map((s) => Object.values(s.counts).reduce((a, b) => a + b, 0)));
  const axis = document.createElement("div");
  axis.className = "axis";
  for (const text of [stacks[0]?.label ?? "", `tallest bar: ${max}`, stacks.at(-1)?.label ?? ""])
    axis.append(Object.assign(document.createElement("span"), { textContent: text }));
  const figure = document.createElement("div");
  figure.className = "chart-frame";
  figure.append(stackedBars(stacks, order, label), axis);
  return figure;
}

/**
 * Stacked bars, one per bucket, one colour per series (CSS classes `c-<series>`), scaled
 * to the tallest bucket; an empty bucket is a faint baseline. `order` fixes the stacking
 * order (and the legend's).
 */
export function stackedBars(stacks: Stack[], order: string[], label: string): SVGElement {
  const width = 600;
  const height = 140;
  const gap = 2;
  const barWidth = Math.max(2, width / Math.max(1, stacks.length) - gap);
  const max = Math.max(1, ...stacks.map((s) => Object.values(s.counts).reduce((a, b) => a + b, 0)));
  // Stretched to the page's width; the axis labels are HTML beside it (stretched SVG text would be distorted).
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    class: "chart bars",
    role: "img",
    "aria-label": label,
    preserveAspectRatio: "none",
  });
  stacks.forEach((stack, i) => {
    const x = i * (barWidth + gap);
    let y = height;
    const group = svg("g", { class: "bar", "data-bucket": i });
    const total = Object.values(stack.counts).reduce((a, b) => a + b, 0);
    group.append(svg("rect", { x, y: height - 1, width: barWidth, height: 1, class: "baseline" }));
    for (const series of order) {
      const n = stack.counts[series] ?? 0;
      if (n === 0) continue;
      const h = (n / max) * (height - 4);
      y -= h;
      group.append(
        titled(
          svg("rect", { x, y, width: barWidth, height: h, class: `c-${series}` }),
          `${stack.label}: ${n} ${series.replace(/_/g, " ")}`,
        ),
      );
    }
    titled(group, `${stack.label}: ${total} run${total === 1 ? "" : "s"}`);
    chart.append(group);
  });
  return chart;
}

/** A horizontal bar for a table cell: `value` of `max`, with the number beside it in text. */
export function inlineBar(value: number, max: number, kind = "neutral"): SVGElement {
  const share = max > 0 ? Math.min(1, value / max) : 0;
  return svg(
    "svg",
    { viewBox: "0 0 100 10", class: `chart inline ${kind}`, "aria-hidden": "true", preserveAspectRatio: "none" },
    svg("rect", { x: 0, y: 0, width: 100, height: 10, class: "track" }),
    svg("rect", { x: 0, y: 0, width: Math.max(share * 100, value > 0 ? 1 : 0), height: 10, class: "fill" }),
  );
}

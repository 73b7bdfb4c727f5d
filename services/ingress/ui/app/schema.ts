import { h } from "./dom.ts";

type Schema = Record<string, unknown>;
const MAX_DEPTH = 6;

function typeOf(schema: Schema): string {
  if (Array.isArray(schema.enum)) return `one of ${schema.enum.map((v) => JSON.stringify(v)).join(", ")}`;
  if (schema.const !== undefined) return `exactly ${JSON.stringify(schema.const)}`;
  const type = Array.isArray(schema.type)
    ? schema.type.join(" | ")
    : typeof schema.type === "string"
      ? schema.type
      : "any";
  const extras = ["format", "pattern", "minimum", "maximum", "minLength", "maxLength"]
    .filter((k) => schema[k] !== undefined)
    .map((k) => `${k} ${JSON.stringify(schema[k])}`);
  return extras.length ? `${type} (${extras.join(", ")})` : type;
}

/** A JSON Schema as a readable list: each property with its type, whether it is required, and its description. */
export function schemaView(schema: unknown, depth = 0): HTMLElement {
  if (schema === null || typeof schema !== "object")
    return h(
      "span",
      { class: "muted" },
      schema === true || schema === undefined ? "any payload" : JSON.stringify(schema),
    );
  const s = schema as Schema;
  const props =
    s.properties && typeof s.properties === "object" ? Object.entries(s.properties as Record<string, unknown>) : [];
  const required = new Set(Array.isArray(s.required) ? (s.required as string[]) : []);
  const items = s.items && typeof s.items === "object" ? s.items : undefined;
  return h(
    "div",
    { class: "schema" },
    h("span", { class: "type" }, typeOf(s)),
    typeof s.description === "string" ? h("span", { class: "muted" }, ` — ${s.description}`) : null,
    props.length && depth < MAX_DEPTH
      ? h(
          "ul",
          {},
          props.map(([name, sub]) =>
            h(
              "li",
              {},
              h("code", {}, name),
              required.has(name)
                ? h("span", { class: "req" }, " required")
                : h("span", { class: "muted" }, " optional"),
              " ",
              schemaView(sub, depth + 1),
            ),
          ),
        )
      : null,
    items && depth < MAX_DEPTH ? h("div", { class: "items" }, "items: ", schemaView(items, depth + 1)) : null,
    s.additionalProperties === false ? h("div", { class: "muted small" }, "no other properties") : null,
  );
}

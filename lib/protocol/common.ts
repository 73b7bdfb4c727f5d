import { Type } from "@sinclair/typebox";

/** The schema version every message carries as `v`. */
export const V1 = Type.Literal(1);
export const Time = Type.String({ description: "ISO-8601 timestamp" });

import { runServices } from "../runtime/main.ts";

await runServices(["matcher"]);

import { runServices } from "../main.ts";

await runServices(["matcher"]);

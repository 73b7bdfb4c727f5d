import { runServices } from "../main.ts";

await runServices(["projector"]);

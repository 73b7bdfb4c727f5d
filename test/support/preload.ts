import { afterAll } from "bun:test";
import { removeTempDirs } from "./temp.ts";

// Loaded before every test file (bunfig.toml [test] preload): hooks here are global.
afterAll(removeTempDirs);

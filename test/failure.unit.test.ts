import { expect, test } from "bun:test";
import { isProgrammingError, RepeatedFailures } from "../lib/failure.ts";

test("programming errors are the code's (TypeError, ReferenceError, RangeError, SyntaxError); anything else may pass", () => {
  expect(
    [new TypeError("x"), new ReferenceError("x"), new RangeError("x"), new SyntaxError("x")].every(isProgrammingError),
  ).toBe(true);
  expect([new Error("TIMEOUT"), "no responders", undefined].some(isProgrammingError)).toBe(false);
});

test("given failures of one message, only identical ones in a row count up; another error or a settle starts again", () => {
  const failures = new RepeatedFailures();
  expect(failures.note(1, new TypeError("a"))).toBe(1);
  expect(failures.note(1, new TypeError("a"))).toBe(2);
  expect(failures.note(2, new TypeError("a"))).toBe(1);
  expect(failures.note(1, new TypeError("b"))).toBe(1);
  expect(failures.note(1, new TypeError("b"))).toBe(2);
  failures.forget(1);
  expect(failures.note(1, new TypeError("b"))).toBe(1);
});

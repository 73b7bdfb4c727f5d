import { expect } from "bun:test";

/**
 * The one harness for the pure parts' specifications, read as emmett's deciders are:
 * `spec(decide).given(what is known).when(what happens).then(what it decides)`. `decide`
 * takes the input first and the state second (emmett's `decide(command, state)`);
 * `then` compares whole values, `thenNothing` expects nothing (undefined or an empty
 * list), `thenThrows` an error whose message contains (or matches) `expected`.
 */
export function spec<Given, When, Then>(decide: (when: When, given: Given) => Then) {
  return {
    given: (given: Given) => ({
      when: (when: When) => {
        const decided = () => decide(when, given);
        return {
          then: (expected: Then) => expect(decided()).toEqual(expected),
          thenNothing: () => expect((decided() as unknown) ?? []).toEqual([]),
          thenThrows: (expected: string | RegExp) => expect(decided).toThrow(expected),
        };
      },
    }),
  };
}

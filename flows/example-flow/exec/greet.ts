// A `bun` runner step: the runtime writes `{flow: {...}}` as JSON on stdin and reads the
// last `FLOW_RESULT ` line of stdout as the step's outcome.
export type StepInput = {
  flow: {
    name: string;
    version: number;
    root: string;
    step: string;
    config: { greeting?: string };
    event: { id: string; type: string; payload: { name: string } };
  };
};

const { flow } = JSON.parse(await Bun.stdin.text()) as StepInput;
const { config, event } = flow;
const greeting = config.greeting ?? "hello";

console.log(`${flow.name}@${flow.version} step ${flow.step}: greeting ${event.payload.name} for event ${event.id}`);
console.error(`${flow.step}: stderr works too (root ${flow.root})`);
console.log(`FLOW_RESULT ${JSON.stringify({ status: "completed", message: `${greeting}, ${event.payload.name}` })}`);

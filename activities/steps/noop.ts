import type { NoopWith } from '../../workflows/spec/step-types';

/** Does nothing and returns `with.output`: placeholders, and a way to inject values into a run. */
export async function noopStep(params: NoopWith): Promise<unknown> {
  return params.output;
}

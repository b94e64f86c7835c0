/** defineJobType's result type, as readers get it back through JSON (ResultOf): checked at compile time. */
import { describe, expectTypeOf, it } from 'vitest';
import * as z from 'zod';
import { defineJobType, type JobType, type ResultOf } from '../../lib/jobs/types.js';

const payload = z.object({ n: z.number() });

describe('ResultOf', () => {
  it('is what handle resolves with, as JSON brings it back; never for a handler that returns nothing; unknown when undeclared', () => {
    const _report = defineJobType({
      type: 'report',
      payload,
      handle: async (p) => ({ rows: p.n, at: new Date(), tags: ['a'], skip: () => 1, maybe: undefined as string | undefined }),
    });
    expectTypeOf<ResultOf<typeof _report>>().toEqualTypeOf<{ rows: number; at: string; tags: string[]; maybe: string | undefined }>();
    const _optional = defineJobType({ type: 'optional', payload, handle: async (p) => (p.n > 0 ? 'yes' : undefined) });
    expectTypeOf<ResultOf<typeof _optional>>().toEqualTypeOf<'yes'>();
    const _quiet = defineJobType({ type: 'quiet', payload, handle: async () => {} });
    expectTypeOf<ResultOf<typeof _quiet>>().toEqualTypeOf<never>();
    expectTypeOf<ResultOf<JobType>>().toEqualTypeOf<unknown>();
  });
});

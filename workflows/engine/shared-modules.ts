/**
 * The libraries the run workflow imports that every run can share. The worker preloads this module
 * (`preloadModules` in apps/worker/src/worker.ts): with the SDK's reusable V8 context, each cached
 * workflow otherwise gets its own webpack module cache and evaluates zod and jsonata again, which
 * cost ≈1.5 MB of memory (and some CPU) per run.
 *
 * Preloading has to name the very modules the workflow code imports: `zod` resolves to different
 * files for `require` and `import` (index.cjs / index.js), so preloading the package name would
 * share a copy nobody uses. Importing them here, the way the workflow code does, shares the right ones.
 *
 * Shared modules are deep-frozen by the SDK once preloaded. Only stateless libraries belong here:
 * never a module of ours that holds per-run state, nor zod schemas (zod caches on them lazily).
 */
import { z } from 'zod';
import jsonata from 'jsonata';
import ms from 'ms';
// Expressions' regular expressions (workflows/spec/regex-engine.ts); its compiled patterns are
// instances made per run, so freezing the library itself changes nothing.
import { RE2JS } from 're2js';

// zod sets its default locale and memoizer in a global config on the first schema it builds; build
// one now, before the SDK freezes that config (a workflow building the first one would then throw).
z.object({ warmUp: z.string().optional() }).safeParse({});

export { jsonata, ms, RE2JS, z };

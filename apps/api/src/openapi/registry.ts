import { OpenAPIRegistry, extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';

extendZodWithOpenApi(z);

/** Every route module registers its paths and schemas here; `document.ts` renders the whole. */
export const registry = new OpenAPIRegistry();

/**
 * Registers a schema the API shares with the workflow code (the spec). zod copies methods onto a
 * schema when it builds it, so a schema built before the extension above ran (whichever module
 * imported workflows/ first) has no `.openapi`: the extension's method is applied to it directly.
 */
export function registerShared<Schema extends z.ZodType>(refId: string, schema: Schema): Schema {
  const { openapi } = z.ZodType.prototype as unknown as { openapi: (this: Schema, refId: string) => Schema };
  return registry.register(refId, openapi.call(schema, refId));
}

import { OpenAPIRegistry, extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';

extendZodWithOpenApi(z);

/** Every route module registers its paths and schemas here; `document.ts` renders the whole. */
export const registry = new OpenAPIRegistry();

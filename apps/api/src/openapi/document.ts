import { OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { Router } from 'express';
import swaggerUi from 'swagger-ui-express';
import { registry } from './registry';

type OpenApiDocument = ReturnType<OpenApiGeneratorV31['generateDocument']>;

/**
 * Renders the shared registry. Generated on first use, after every route module has registered
 * its paths (they do so when imported), and cached: the registry does not change at run time.
 */
let cached: OpenApiDocument | undefined;

export function openApiDocument(): OpenApiDocument {
  cached ??= new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'flowpilot API',
      version: '1.0.0',
      description: 'Versioned workflow templates and their runs on Temporal. Errors are RFC 9457 problem details.',
    },
  });
  return cached;
}

/** `GET /openapi.json`, and `/docs` rendered by the swagger-ui bundled in node_modules (no CDN). */
export function createOpenApiRouter(): Router {
  const router = Router();
  router.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument());
  });
  router.use('/docs', swaggerUi.serve);
  router.get('/docs', swaggerUi.setup(undefined, { swaggerOptions: { url: '/openapi.json' } }));
  return router;
}

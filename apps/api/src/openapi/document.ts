import { OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { Router } from 'express';
import swaggerUi from 'swagger-ui-express';
import { commonProblemResponses, problemResponses } from '../http/problem-schema';
import { allowOnly } from '../http/routes';
import { registry } from './registry';

type OpenApiDocument = ReturnType<OpenApiGeneratorV31['generateDocument']>;

/** Every documented operation needs a bearer credential: an API token (`fpk_…`) or an OIDC JWT. */
const bearerAuth = registry.registerComponent('securitySchemes', 'bearerAuth', {
  type: 'http',
  scheme: 'bearer',
  description: 'An API token (fpk_…) or, when OIDC is configured, a JWT of the issuer',
});

/**
 * Renders the shared registry. Generated on first use, after every route module has registered
 * its paths (they do so when imported), and cached: the registry does not change at run time.
 */
let cached: OpenApiDocument | undefined;

export function openApiDocument(): OpenApiDocument {
  cached ??= new OpenApiGeneratorV31(withCommonResponses(registry.definitions)).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'flowpilot API',
      version: '1.0.0',
      description: 'Versioned workflow templates and their runs on Temporal. Errors are RFC 9457 problem details.',
    },
  });
  return cached;
}

/**
 * Every operation documents the errors any request can meet (see `commonProblemResponses`), and
 * the bearer credential with its 401 and 403, beside its own; its own descriptions win. Added
 * here, once, so no operation can forget them. /healthz, /readyz, /openapi.json and /docs are
 * public and not operations of this document; the one public operation is the codec's CORS
 * preflight, which declares `security: []` and gets neither.
 */
function withCommonResponses(definitions: typeof registry.definitions): typeof registry.definitions {
  return definitions.map((definition) => {
    if (definition.type !== 'route') return definition;
    // An operation declaring `security: []` is answered before authentication (the codec's CORS preflight).
    const isPublic = Array.isArray(definition.route.security) && definition.route.security.length === 0;
    return {
      ...definition,
      route: {
        ...definition.route,
        security: isPublic ? [] : [{ [bearerAuth.name]: [] }],
        responses: sortedByStatus({
          ...commonProblemResponses(definition.route.method),
          ...(isPublic ? {} : problemResponses(401, 403)),
          ...definition.route.responses,
        }),
      },
    };
  });
}

function sortedByStatus<T>(responses: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(responses).sort(([a], [b]) => a.localeCompare(b)));
}

/** `GET /openapi.json`, and `/docs` rendered by the swagger-ui bundled in node_modules (no CDN). */
export function createOpenApiRouter(): Router {
  const router = Router();
  router
    .route('/openapi.json')
    .get((_req, res) => {
      res.json(openApiDocument());
    })
    .all(allowOnly('GET'));
  router.use('/docs', swaggerUi.serve);
  router.get('/docs', swaggerUi.setup(undefined, { swaggerOptions: { url: '/openapi.json' } }));
  return router;
}

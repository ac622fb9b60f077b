import { randomUUID } from 'node:crypto';
import express from 'express';
import { pinoHttp } from 'pino-http';
import { AuditTrail, recordRefusals } from './audit/trail';
import { createAuditRouter } from './audit/router';
import { authenticate, Authenticator } from './auth/authenticate';
import type { ApiDependencies } from './dependencies';
import { createHealthRouter } from './health/router';
import { createInsightsRouter } from './insights/router';
import { parseBodies } from './http/body';
import { renderProblems, unknownRoute } from './http/errors';
import { createOpenApiRouter } from './openapi/document';
import { createCodecCors, createCodecRouter } from './codec/router';
import { createRunsRouter } from './runs/router';
import { RunStarter } from './runs/start';
import { createSchedulesRouter } from './schedules/router';
import { createRunLogsRouter } from './run-logs/router';
import { createRetentionRouter } from './retention/router';
import { createSecretsRouter } from './secrets/router';
import { createTenantsRouter } from './tenants/router';
import { createTemplatesRouter } from './templates/router';
import { TemplateHeads } from './templates/template-heads';
import { createTokensRouter } from './tokens/router';
import { createPublishesRouter, createTargetsRouter, createTemplatePublishingRouter } from './dolphinscheduler/router';
import { createHooksRouter } from './triggers/hooks';
import { createTriggersRouter } from './triggers/router';
import { Triggers } from './triggers/service';
import { createExecutionsRouter } from './dolphinscheduler/executions-router';
import { createInspectionsRouter } from './inspections/router';
import { createMetricsRouter } from './metrics/router';

/** Bodies above this are refused before parsing; a spec alone may hold MAX_SPEC_BYTES (checked later). */
const BODY_LIMIT = '2mb';

/** Request ids a caller may choose (to correlate with its own logs); anything else gets a fresh UUID. */
const CALLER_REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

export function createApp(dependencies: ApiDependencies): express.Express {
  const deps = { ...dependencies, audit: dependencies.audit ?? new AuditTrail(dependencies.prisma, dependencies.logger) };
  const app = express();
  app.disable('x-powered-by');

  app.use(
    pinoHttp({
      logger: deps.logger,
      genReqId(req, res) {
        const offered = req.headers['x-request-id'];
        const id = typeof offered === 'string' && CALLER_REQUEST_ID.test(offered) ? offered : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      // Method, URL and id identify a request; headers stay out of the logs (they will carry tokens).
      serializers: {
        req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url }),
      },
      customLogLevel(_req, res, error) {
        if (error || res.statusCode >= 500) return 'error';
        return res.statusCode >= 400 ? 'warn' : 'info';
      },
    }),
  );

  app.use(createHealthRouter(deps));
  app.use(createOpenApiRouter());

  // The codec's CORS headers and its preflight, which browsers send without a credential.
  app.use('/api/v1/codec', createCodecCors(deps));

  // Webhook deliveries carry no credential: each is authenticated by its signature (triggers/hooks.ts).
  const templateHeads = new TemplateHeads(deps.prisma, deps.templateChanges);
  const triggers = new Triggers(deps);
  app.use('/api/v1/hooks', createHooksRouter(deps, triggers, new RunStarter(deps, templateHeads)));

  // Everything above is public (health, the OpenAPI document and its viewer, CORS preflights,
  // signed webhook deliveries); everything below needs a credential.
  const authenticator = new Authenticator(deps.prisma, deps.logger, deps.oidc);
  app.use(recordRefusals(deps.audit));
  app.use(authenticate(authenticator));
  if (deps.rateLimits) app.use(deps.rateLimits.middleware());

  app.use(parseBodies({ limit: BODY_LIMIT }));
  app.use('/api/v1/tenants', createTenantsRouter(deps));
  app.use('/api/v1/tokens', createTokensRouter(deps, authenticator));
  app.use('/api/v1/templates', createTemplatesRouter(deps, templateHeads));
  app.use('/api/v1/templates', createTemplatePublishingRouter(deps));
  app.use('/api/v1/templates', createExecutionsRouter(deps));
  app.use('/api/v1/inspections', createInspectionsRouter(deps));
  app.use('/api/v1/dolphinscheduler/targets', createTargetsRouter(deps));
  app.use('/api/v1/publishes', createPublishesRouter(deps));
  app.use('/api/v1/templates', createSchedulesRouter(deps, templateHeads));
  app.use('/api/v1/templates', createTriggersRouter(deps, templateHeads, triggers));
  app.use('/api/v1/templates', createInsightsRouter(deps, templateHeads));
  app.use('/api/v1/runs', createRunsRouter(deps, templateHeads));
  app.use('/api/v1/runs', createRunLogsRouter(deps));
  app.use('/api/v1/retention', createRetentionRouter(deps));
  app.use('/api/v1/secrets', createSecretsRouter(deps));
  app.use('/api/v1/codec', createCodecRouter(deps));
  app.use('/api/v1/audit', createAuditRouter(deps));
  app.use(createMetricsRouter(deps));

  app.use(unknownRoute);
  app.use(renderProblems(deps.logger));
  return app;
}

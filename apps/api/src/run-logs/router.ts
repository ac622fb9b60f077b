import { pipeline } from 'node:stream/promises';
import { Router, type Request } from 'express';
import { ArtifactContentMissing } from '../../../common/artifacts/content-backends';
import { ArtifactStorageUnavailable, ArtifactStore } from '../../../common/artifacts/artifact-store';
import type { ApiDependencies } from '../dependencies';
import { principalOf } from '../http/principal';
import { problems } from '../http/problem';
import { declareRoutes } from '../http/routes';
import { parseRequest, pathParam } from '../http/validation';
import { runNotFound, runOfTenant } from '../runs/run-handle';
import { RunParamsSchema } from '../runs/schemas';
import { decodeCursor, encodeCursor } from '../templates/cursor';
import { readStepLogs } from './read';
import { ArtifactParams, ListLogsQuery, LogCursorSchema, LogEntryId, StreamLogsQuery } from './schemas';
import { streamStepLogs } from './stream';
import './openapi';

/**
 * A run's step logs and artifacts, mounted at /api/v1/runs beside the runs router. Like every
 * run route, the run must be the caller's tenant's (else 404); the rows are read by tenant too.
 */
export function createRunLogsRouter(deps: ApiDependencies): Router {
  const router = Router();
  const artifacts = deps.artifacts ?? new ArtifactStore(deps.prisma);

  const runOf = async (req: Request) => {
    const parsed = RunParamsSchema.safeParse({ id: req.params.id });
    if (!parsed.success) throw runNotFound(String(req.params.id));
    const tenantId = principalOf(req).tenantId;
    await runOfTenant(deps, parsed.data.id, tenantId);
    return { tenantId, runId: parsed.data.id };
  };

  declareRoutes(router, '/api/v1/runs', {
    '/:id/logs': {
      get: async (req, res) => {
        const query = parseRequest(ListLogsQuery, req.query, 'query');
        const scope = await runOf(req);
        const after = query.cursor === undefined ? undefined : BigInt(decodeCursor(LogCursorSchema, query.cursor).id);
        const rows = await readStepLogs(deps.prisma, scope, query, after, query.limit + 1);
        const items = rows.slice(0, query.limit);
        const nextCursor = rows.length > query.limit ? encodeCursor({ id: items.at(-1)!.id }) : null;
        res.json({ items, nextCursor });
      },
    },
    '/:id/logs/stream': {
      get: async (req, res) => {
        const query = parseRequest(StreamLogsQuery, req.query, 'query');
        const lastEventId = req.header('last-event-id');
        const header = lastEventId === undefined ? undefined : LogEntryId.safeParse(lastEventId);
        if (header && !header.success) {
          throw problems.invalidParams('Last-Event-ID is not an entry id', [{ path: ['last-event-id'], message: 'must be an entry id' }]);
        }
        const resumeAt = header?.data ?? query.after;
        const scope = await runOf(req);
        await streamStepLogs(deps, req, res, scope, query, resumeAt === undefined ? undefined : BigInt(resumeAt));
      },
    },
    '/:id/artifacts/:artifactId': {
      get: async (req, res) => {
        const scope = await runOf(req);
        const { artifactId } = pathParam(ArtifactParams, { artifactId: req.params.artifactId }, 'artifact');
        let artifact;
        try {
          artifact = await artifacts.open(scope.tenantId, scope.runId, artifactId);
        } catch (error) {
          if (error instanceof ArtifactStorageUnavailable) throw problems.unavailable(error.message);
          if (error instanceof ArtifactContentMissing) throw problems.notFound(`artifact ${artifactId} of run ${scope.runId} has expired`);
          throw error;
        }
        if (!artifact) throw problems.notFound(`run ${scope.runId} has no artifact ${artifactId}`);
        res.status(200).set({
          'Content-Type': artifact.mediaType,
          'Content-Length': String(artifact.size),
          ETag: `"sha256-${artifact.sha256}"`,
          'Content-Disposition': `attachment; filename="${artifact.stepId}-${artifact.id}"`,
          // The media type is whatever a step's server said: a browser must neither sniff nor run it.
          'X-Content-Type-Options': 'nosniff',
          'Content-Security-Policy': "sandbox; default-src 'none'",
          'Cache-Control': 'private, max-age=0',
        });
        await pipeline(artifact.content, res);
      },
    },
  });
  return router;
}

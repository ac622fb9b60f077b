import { createHmac, timingSafeEqual } from 'node:crypto';
import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import { compileExpression, ExpressionError, type ExpressionContext } from '../../../../workflows/spec/expressions';
import { auditActorOf } from '../audit/trail';
import type { ApiDependencies } from '../dependencies';
import { attachPrincipal, type Principal } from '../http/principal';
import { ProblemError, problems } from '../http/problem';
import { MAX_BODY_DEPTH } from '../http/body';
import { allowOnly } from '../http/routes';
import { IDEMPOTENCY_KEY } from '../runs/schemas';
import type { RunStarter } from '../runs/start';
import { TriggerIdParam } from './schemas';
import type { ActiveTrigger, Triggers } from './service';

/**
 * `POST /api/v1/hooks/:triggerId`: where other systems deliver events that start runs. No bearer
 * token: a delivery is authenticated by its signature, an HMAC-SHA256 with the trigger's secret over
 * `<timestamp>.<raw body>`, sent as `X-Flowpilot-Signature: v1=<hex>` beside
 * `X-Flowpilot-Timestamp: <unix seconds>`. A timestamp more than REPLAY_WINDOW_SECONDS away from
 * the API's clock is refused, so a captured delivery cannot be replayed later; within the window,
 * the delivery id (`X-Flowpilot-Delivery`) deduplicates: the run's id is derived from the trigger
 * and the delivery id, and Temporal starts a workflow id once (runs/start.ts, as for Idempotency-Key),
 * so a redelivery answers the run the first delivery started.
 *
 * Checked in this order: the trigger exists (404), its rate limit (429; the writes budget of
 * RATE_LIMIT_WRITES_PER_MINUTE, counted per trigger, signed or not), the body's size (413), the
 * signature and the timestamp (401, audited as refusals in the trigger's tenant within the audit's
 * refusal budget), the body is JSON nesting at most 64 levels (415, 400), the delivery id (400), the mapping (422), and then
 * the start as any run's (422 inputs, 409 archived template). Mounted before authentication.
 */

export const SIGNATURE_HEADER = 'x-flowpilot-signature';
export const TIMESTAMP_HEADER = 'x-flowpilot-timestamp';
export const DELIVERY_HEADER = 'x-flowpilot-delivery';
/** How far a delivery's timestamp may be from the API's clock, either way. */
export const REPLAY_WINDOW_SECONDS = 300;
/** Webhook payloads are events, not documents. */
export const HOOK_BODY_LIMIT_BYTES = 256 * 1024;

const SIGNATURE = /^v1=([0-9a-f]{64})$/;
const TIMESTAMP = /^[0-9]{1,12}$/;
/** Headers a mapping never sees: credentials of other schemes, and the signature itself. */
const HIDDEN_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization', SIGNATURE_HEADER]);

type RefusalReason = 'missing-signature' | 'malformed-signature' | 'bad-signature' | 'stale-timestamp' | 'no-secret';

export function createHooksRouter(deps: ApiDependencies, triggers: Triggers, starter: RunStarter): Router {
  const router = Router();
  const readBody = express.raw({ type: () => true, limit: HOOK_BODY_LIMIT_BYTES });
  const rateLimit = deps.rateLimits?.middleware();

  router
    .route('/:triggerId')
    .post(async (req, res) => {
      const parsedId = TriggerIdParam.safeParse(req.params.triggerId);
      const trigger = parsedId.success ? await triggers.activeTrigger(parsedId.data) : undefined;
      if (!trigger) throw problems.notFound(`trigger ${String(req.params.triggerId)} does not exist`);
      const principal = triggerPrincipal(trigger);
      attachPrincipal(req, principal);
      if (rateLimit) await run(rateLimit, req, res);
      await run(readBody, req, res);
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);

      const refusal = signatureRefusal(trigger, req, raw);
      if (refusal) {
        deps.audit?.recordRefusal(auditActorOf(req, principal), {
          action: 'POST /api/v1/hooks/:triggerId',
          target: { type: 'trigger', id: trigger.row.id },
          summary: { status: 401, reason: refusal.reason },
        });
        throw problems.unauthorized(refusal.message);
      }

      const body = jsonOf(req, raw);
      const deliveryId = req.header(DELIVERY_HEADER);
      if (deliveryId === undefined || !IDEMPOTENCY_KEY.test(deliveryId)) {
        throw problems.badRequest(`${DELIVERY_HEADER} must name the delivery: 1 to 200 visible ASCII characters (it deduplicates redeliveries)`);
      }
      const input = await mappedInput(trigger, req, body, deliveryId);
      let started;
      try {
        started = await starter.start(principal, { templateId: trigger.row.templateId, ...(trigger.row.version ? { version: trigger.row.version } : {}), input }, deliveryId);
      } catch (error) {
        if (error instanceof ProblemError && error.status === 409 && error.detail?.includes('Idempotency-Key')) {
          throw problems.conflict(`delivery ${deliveryId} already started a run with another payload`, error.extensions);
        }
        throw error;
      }
      const { created, run: runStarted } = started;
      if (created) {
        deps.audit?.record(auditActorOf(req, principal), {
          action: 'run.started',
          target: { type: 'run', id: runStarted.runId },
          summary: { workflowId: runStarted.workflowId, templateId: runStarted.templateId, version: runStarted.version, triggerId: trigger.row.id, deliveryId },
        });
      }
      res
        .status(created ? 201 : 200)
        .location(runStarted.links.self)
        .json({ runId: runStarted.runId, templateId: runStarted.templateId, version: runStarted.version, deliveryId, duplicate: !created });
    })
    .all(allowOnly('POST'));
  return router;
}

/** Who a trigger's deliveries act as: its tenant, named `trigger:<id>` as starter, credential and rate-limit key. */
function triggerPrincipal(trigger: ActiveTrigger): Principal {
  const name = `trigger:${trigger.row.id}`;
  return { subject: name, tenantId: trigger.row.tenantId, roles: [], system: false, credential: name };
}

/** Why the delivery's signature is refused; undefined when it verifies within the replay window. */
function signatureRefusal(trigger: ActiveTrigger, req: Request, raw: Buffer): { reason: RefusalReason; message: string } | undefined {
  const timestamp = req.header(TIMESTAMP_HEADER);
  const signatures = req.header(SIGNATURE_HEADER);
  if (timestamp === undefined || signatures === undefined) {
    return { reason: 'missing-signature', message: `a delivery needs ${SIGNATURE_HEADER} and ${TIMESTAMP_HEADER}` };
  }
  // Several signatures may be sent (comma-separated) while a sender moves to a rotated secret.
  const offered = signatures.split(',').map((part) => SIGNATURE.exec(part.trim())?.[1]);
  if (!TIMESTAMP.test(timestamp) || offered.length > 5 || offered.some((hex) => hex === undefined)) {
    return { reason: 'malformed-signature', message: `${SIGNATURE_HEADER} must be v1=<64 hex digits> (comma-separated, at most 5) and ${TIMESTAMP_HEADER} unix seconds` };
  }
  if (trigger.secret === undefined) {
    return { reason: 'no-secret', message: 'the signature does not verify' };
  }
  const expected = createHmac('sha256', trigger.secret).update(`${timestamp}.`).update(raw).digest();
  // Every offered signature is compared in constant time, and all of them are compared.
  const verified = offered.map((hex) => timingSafeEqual(Buffer.from(hex!, 'hex'), expected)).includes(true);
  if (!verified) return { reason: 'bad-signature', message: 'the signature does not verify' };
  const skew = Math.abs(Date.now() / 1000 - Number(timestamp));
  if (skew > REPLAY_WINDOW_SECONDS) {
    return { reason: 'stale-timestamp', message: `the timestamp is ${Math.round(skew)} s away from the server's clock; at most ${REPLAY_WINDOW_SECONDS} s are accepted` };
  }
  return undefined;
}

function jsonOf(req: Request, raw: Buffer): unknown {
  if (!req.is(['application/json', 'application/*+json'])) throw problems.unsupportedMediaType('a delivery is sent as application/json');
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch (error) {
    throw problems.badRequest(`the body is not JSON: ${(error as Error).message}`);
  }
  // As every body of the API (http/body.ts): what is deeper would reach recursive code downstream.
  if (nestsDeeperThan(body, MAX_BODY_DEPTH)) throw problems.badRequest(`the body nests deeper than ${MAX_BODY_DEPTH} levels`);
  return body;
}

/** Iterative, so no depth can overflow it. */
function nestsDeeperThan(root: unknown, limit: number): boolean {
  const pending: { value: unknown; depth: number }[] = [{ value: root, depth: 0 }];
  while (pending.length > 0) {
    const { value, depth } = pending.pop()!;
    if (depth > limit) return true;
    if (typeof value === 'object' && value !== null) {
      for (const item of Object.values(value)) pending.push({ value: item, depth: depth + 1 });
    }
  }
  return false;
}

/** The run's input: the trigger's mapping evaluated over the delivery, within the expression bounds of the spec. */
async function mappedInput(trigger: ActiveTrigger, req: Request, body: unknown, deliveryId: string): Promise<Record<string, unknown>> {
  const headers = Object.fromEntries(Object.entries(req.headers).filter(([name]) => !HIDDEN_HEADERS.has(name)));
  const context = { body, headers, deliveryId, trigger: { id: trigger.row.id, name: trigger.row.name } };
  let value: unknown;
  try {
    // The spec's evaluator reads any document; its context type names a run's, which a delivery is not.
    value = await compileExpression(trigger.row.mapping).evaluate(context as unknown as ExpressionContext);
  } catch (error) {
    if (error instanceof ExpressionError) throw problems.unprocessable(`the trigger's mapping failed on this delivery: ${error.message}`, [{ path: ['mapping'], message: error.message }]);
    throw error;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw problems.unprocessable(`the trigger's mapping must produce an object (the run's input), not ${value === undefined ? 'nothing' : Array.isArray(value) ? 'an array' : typeof value}`, [
      { path: ['mapping'], message: 'does not produce an object' },
    ]);
  }
  return value as Record<string, unknown>;
}

/** Runs a middleware inside a handler: resolves when it calls next(), rejects with what it passes on. */
function run(middleware: RequestHandler, req: Request, res: Response): Promise<void> {
  return new Promise((resolve, reject) => {
    // The middlewares here (express.raw, the rate limiter) answer through next(), not their promise.
    // What they pass to next() is rejected as is, as Express would hand it to the error middleware.
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    void middleware(req, res, (error?: unknown) => (error ? reject(error) : resolve()));
  });
}

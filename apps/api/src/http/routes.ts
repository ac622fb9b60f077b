import type { Request, RequestHandler, Response, Router } from 'express';
import { allows, describeAccess, policyFor, type Access } from '../auth/policy';
import { principalOf } from './principal';
import { problems } from './problem';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
export type RouteHandler = (req: Request, res: Response) => unknown;
/** The handlers of one path, by method. */
export type PathRoutes = Partial<Record<Method, RouteHandler>>;

/** Every route object `declareRoutes` made; a test walks the router to find any made another way. */
export const declaredRoutes = new WeakSet<object>();

/**
 * The one way to declare API routes: each method's handler runs behind the access its policy
 * entry names (a route without one throws here, so the API does not start), and any other method
 * on the path is a 405 listing the ones it has. `answeredBeforeAuthentication` names methods that
 * a handler mounted before `authenticate` answers on these paths (a CORS preflight, which browsers
 * send without credentials): they need no policy entry, and a 405's `Allow` lists them too.
 */
export function declareRoutes(
  router: Router,
  mountPath: string,
  paths: Record<string, PathRoutes>,
  options: { answeredBeforeAuthentication?: string[] } = {},
): void {
  for (const [path, handlers] of Object.entries(paths)) {
    const route = router.route(path);
    const methods: string[] = [];
    for (const [method, handler] of Object.entries(handlers) as [Method, RouteHandler][]) {
      const access = policyFor(method, `${mountPath}${path === '/' ? '' : path}`);
      route[method](authorize(access), handler);
      methods.push(method.toUpperCase());
    }
    route.all(allowOnly(...methods, ...(options.answeredBeforeAuthentication ?? [])));
    declaredRoutes.add(route);
  }
}

function authorize(access: Access): RequestHandler {
  return (req, _res, next) => {
    if (!allows(access, principalOf(req))) throw problems.forbidden(`this needs ${describeAccess(access)}`);
    next();
  };
}

/**
 * The last handler of a route: any method the route did not register is a 405 that lists the
 * methods it did (HEAD comes with GET in Express).
 */
export function allowOnly(...methods: string[]): RequestHandler {
  const allowed = methods.includes('GET') && !methods.includes('HEAD') ? [...methods, 'HEAD'] : methods;
  return (req, res) => {
    res.setHeader('Allow', allowed.join(', '));
    throw problems.methodNotAllowed(req.method, allowed);
  };
}

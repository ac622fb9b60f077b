import type { RequestHandler } from 'express';
import { problems } from './problem';

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

import express, { type RequestHandler } from 'express';
import { parseDocument } from 'yaml';
import { problems } from './problem';

/**
 * Request bodies arrive as JSON or YAML and leave as the same plain JSON value on `req.body`
 * (undefined when the request has none). Anything else sent with POST, PUT or PATCH is a 415.
 */

const JSON_TYPES = ['application/json', 'application/*+json'];
const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml'];
const METHODS_WITH_BODY = new Set(['POST', 'PUT', 'PATCH']);

/** Deeper than any real spec; bounds the recursion of everything that walks a body later. */
export const MAX_BODY_DEPTH = 64;
/** YAML anchors expand on parse; a small bound keeps "billion laughs" documents out. */
const MAX_YAML_ALIASES = 100;

export interface BodyParsingOptions {
  /** Largest accepted body, in bytes or as "2mb". */
  limit: number | string;
}

export function parseBodies(options: BodyParsingOptions): RequestHandler[] {
  // Read every body as text first, so the size limit, charsets and content encodings are handled
  // the same way whatever the format; `type: () => true` reads any content type.
  const readText = express.text({ type: () => true, limit: options.limit });
  const checkContentType: RequestHandler = (req, _res, next) => {
    if (!METHODS_WITH_BODY.has(req.method) || !hasBody(req.headers)) return next();
    if (req.is(JSON_TYPES) || req.is(YAML_TYPES)) return next();
    throw problems.unsupportedMediaType(
      `send the body as application/json or YAML (${YAML_TYPES.join(', ')}), not ${req.headers['content-type'] ?? 'an unnamed type'}`,
    );
  };
  const decode: RequestHandler = (req, _res, next) => {
    const text: unknown = req.body;
    if (!METHODS_WITH_BODY.has(req.method) || typeof text !== 'string' || text.trim() === '') {
      req.body = undefined;
      return next();
    }
    const value = req.is(YAML_TYPES) ? parseYaml(text) : parseJson(text);
    assertStorable(value);
    req.body = value;
    next();
  };
  return [checkContentType, readText, decode];
}

function hasBody(headers: Record<string, string | string[] | undefined>): boolean {
  return headers['transfer-encoding'] !== undefined || Number(headers['content-length'] ?? 0) > 0;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw problems.badRequest(`the body is not valid JSON: ${(error as Error).message}`);
  }
}

function parseYaml(text: string): unknown {
  let value: unknown;
  try {
    const document = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
    const [firstError] = document.errors;
    if (firstError) throw firstError;
    value = document.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (error) {
    throw problems.badRequest(`the body is not valid YAML: ${(error as Error).message}`);
  }
  // YAML knows values JSON does not (.inf, .nan, binary, dates); the API speaks JSON only,
  // so they become what JSON.stringify makes of them.
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value) ?? 'null');
}

const UNSTORABLE_TEXT = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** True for text PostgreSQL can store: no NUL characters and no unpaired UTF-16 surrogates. */
export function isStorableText(text: string): boolean {
  return !UNSTORABLE_TEXT.test(text);
}

/**
 * Bodies end up in PostgreSQL text and jsonb columns, which refuse NUL characters and unpaired
 * surrogates, and in code that walks them recursively. Refusing both here, once, keeps every
 * handler from turning such input into a database error. Iterative, so depth cannot overflow it.
 */
function assertStorable(root: unknown): void {
  const pending: { value: unknown; path: (string | number)[] }[] = [{ value: root, path: [] }];
  while (pending.length > 0) {
    const { value, path } = pending.pop()!;
    if (path.length > MAX_BODY_DEPTH) {
      throw problems.badRequest(`the body nests deeper than ${MAX_BODY_DEPTH} levels`, { path: path.slice(0, 8) });
    }
    if (typeof value === 'string') {
      if (!isStorableText(value)) throw unstorable(path);
    } else if (Array.isArray(value)) {
      value.forEach((item, index) => pending.push({ value: item, path: [...path, index] }));
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) {
        if (!isStorableText(key)) throw unstorable(path);
        pending.push({ value: item, path: [...path, key] });
      }
    }
  }
}

function unstorable(path: (string | number)[]) {
  return problems.invalidParams('the body holds text with a NUL character or an unpaired surrogate', [
    { path, message: 'must not contain NUL characters or unpaired surrogates' },
  ]);
}

import express, { type RequestHandler } from 'express';
import { isMap, isScalar, parseDocument, visit } from 'yaml';
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
/**
 * The `yaml` library spends some 5 to 15 µs of blocked event loop per line, indicator and flow
 * item (a 2 MB body of `- 1` lines took 8 s), and recurses once per nesting level (a body nested
 * 600,000 deep ran it out of memory). A linear scan measures both first: 25,000 units is about
 * 200 ms of parsing at worst, some 12,000 lines of an ordinary spec; larger specs go as JSON.
 */
export const MAX_YAML_UNITS = 25_000;

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
  const { depth, units } = scanYaml(text);
  if (depth > MAX_BODY_DEPTH) throw problems.badRequest(`the body nests deeper than ${MAX_BODY_DEPTH} levels`);
  if (units > MAX_YAML_UNITS) {
    throw problems.payloadTooLarge(
      `the YAML body has more than ${MAX_YAML_UNITS} lines, indicators and flow items; send a body this large as application/json`,
    );
  }
  let value: unknown;
  try {
    // `uniqueKeys: true` compares every key of a mapping with every other (quadratic: 16,000 keys
    // took 3 s); duplicateKey below does it with a set.
    const document = parseDocument(text, { uniqueKeys: false, prettyErrors: false });
    const [firstError] = document.errors;
    if (firstError) throw firstError;
    const duplicate = duplicateKey(document);
    if (duplicate !== undefined) throw new Error(`Map keys must be unique: ${JSON.stringify(duplicate).slice(0, 100)}`);
    value = document.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (error) {
    throw problems.badRequest(`the body is not valid YAML: ${(error as Error).message}`);
  }
  if (value === undefined) return undefined;
  // YAML knows values JSON does not (.inf, .nan, binary, dates); the API speaks JSON only,
  // so they become what JSON.stringify makes of them.
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    // An alias inside the node its anchor names (`a: &a [*a]`) makes a value that contains itself.
    throw problems.badRequest('the body is not valid YAML: an alias refers to a node that contains it, which no JSON value can hold');
  }
  return JSON.parse(json ?? 'null');
}

function duplicateKey(document: ReturnType<typeof parseDocument>): string | undefined {
  let duplicate: string | undefined;
  visit(document, {
    Map(_key, map) {
      if (!isMap(map)) return undefined;
      const seen = new Set<string>();
      for (const pair of map.items) {
        if (!isScalar(pair.key)) continue;
        const key = String(pair.key.value);
        if (seen.has(key)) {
          duplicate = key;
          return visit.BREAK;
        }
        seen.add(key);
      }
      return undefined;
    },
  });
  return duplicate;
}

/**
 * One linear pass over YAML text, before the parser sees it: the deepest nesting (flow `[` and `{`
 * outside quoted scalars, comments and block scalars, plus block levels by indentation and by
 * compact `- `, `? `, `: ` indicators) and the work the parser will do (units: lines, indicators
 * and flow items, tags, anchors and aliases). Errs towards counting more, never less.
 */
const BLOCK_SCALAR_HEADER = /^[|>][-+0-9]{0,2}$/;

export function scanYaml(text: string): { depth: number; units: number } {
  let units = 0;
  let maxDepth = 0;
  let flow = 0;
  const indents: number[] = [];
  /** The indentation of a line ending in `|` or `>`: deeper lines (and blank ones) are its text. */
  let blockScalarParent: number | undefined;
  let quote: '"' | "'" | undefined;
  const length = text.length;
  let i = 0;
  while (i < length) {
    // At the start of a line.
    let column = 0;
    while (i < length && (text[i] === ' ' || text[i] === '\t')) {
      i++;
      column++;
    }
    const lineEnd = text.indexOf('\n', i) === -1 ? length : text.indexOf('\n', i);
    units++;
    const blank = i >= lineEnd || text[i] === '\r' || (text[i] === '#' && quote === undefined);
    if (blockScalarParent !== undefined && quote === undefined) {
      if (blank || column > blockScalarParent) {
        i = lineEnd + 1;
        continue;
      }
      blockScalarParent = undefined;
    }
    if (!blank && quote === undefined && flow === 0) {
      while (indents.length > 0 && indents[indents.length - 1]! > column) indents.pop();
      if (indents.length === 0 || indents[indents.length - 1]! < column) indents.push(column);
      // Compact nesting on one line: `- - x`, `? - x`.
      while (i < lineEnd && (text[i] === '-' || text[i] === '?' || text[i] === ':') && (i + 1 >= lineEnd || text[i + 1] === ' ')) {
        units++;
        i++;
        column++;
        while (i < lineEnd && text[i] === ' ') {
          i++;
          column++;
        }
        indents.push(column);
        if (indents.length > MAX_BODY_DEPTH) return { depth: indents.length, units };
      }
    }
    let previous = quote === undefined ? '\n' : ''; // the last character that was not a space, on this line
    let tokenStart = i; // where the last space-separated token began
    for (; i < lineEnd; i++) {
      const c = text[i]!;
      if (quote === '"') {
        if (c === '\\') i++;
        else if (c === '"') quote = undefined;
        previous = c;
        continue;
      }
      if (quote === "'") {
        if (c === "'") {
          if (text[i + 1] === "'") i++;
          else quote = undefined;
        }
        previous = c;
        continue;
      }
      if (c === ' ' || c === '\t' || c === '\r') continue;
      const afterSpace = text[i - 1] === ' ' || text[i - 1] === '\t' || previous === '\n';
      if (c === '#' && afterSpace) break;
      const previousToken = text[tokenStart];
      if (afterSpace) tokenStart = i;
      if ((c === '"' || c === "'") && (previous === '\n' || '[{,:-?'.includes(previous) || (afterSpace && (previousToken === '!' || previousToken === '&')))) {
        quote = c;
        units++;
      } else if (c === '[' || c === '{') {
        flow++;
        units++;
        if (indents.length + flow > MAX_BODY_DEPTH) return { depth: indents.length + flow, units };
      } else if (c === ']' || c === '}') {
        if (flow > 0) flow--;
      } else if (c === ',' || ((c === '!' || c === '&' || c === '*') && afterSpace)) {
        if (++units > MAX_YAML_UNITS) return { depth: maxDepth, units };
      } else if ((c === ':' || c === '-' || c === '?') && (i + 1 >= lineEnd || text[i + 1] === ' ' || (flow > 0 && ',[]{}'.includes(text[i + 1]!)))) {
        units++;
      }
      previous = c;
    }
    const depth = indents.length + flow;
    if (depth > maxDepth) maxDepth = depth;
    if (maxDepth > MAX_BODY_DEPTH || units > MAX_YAML_UNITS) return { depth: maxDepth, units };
    if (quote === undefined && flow === 0 && BLOCK_SCALAR_HEADER.test(text.slice(tokenStart, Math.min(i, tokenStart + 8)).trimEnd())) {
      blockScalarParent = indents[indents.length - 1] ?? 0;
    }
    i = lineEnd + 1;
  }
  return { depth: maxDepth, units };
}

// eslint-disable-next-line no-control-regex -- matching NUL (and control characters) is the point
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

import { createServer, STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RequestListener } from 'node:http';
import { ProblemError, problems } from './problem';

/**
 * The API's HTTP server. Node answers some requests itself, before Express sees them: header
 * fields over `maxHeaderSize` (431), a request it cannot parse (400), one whose headers arrive too
 * slowly (408). By default those answers have no body; here they are problem+json like every
 * other error (see the 'clientError' event in Node's http documentation).
 *
 * CONNECT never reaches Express either: Node hands it to the 'connect' event, and with no listener
 * it leaves the connection without an answer. This API is no proxy, so it answers 405 and closes.
 */
export function createApiServer(app: RequestListener): Server {
  const server = createServer(app);
  server.on('clientError', (error: Error & { code?: string }, socket: Duplex) => {
    // A response is already under way on this connection (or the peer has gone): nothing to say.
    if (error.code === 'ECONNRESET' || !socket.writable || (socket as Duplex & { _httpMessage?: unknown })._httpMessage) {
      socket.destroy();
      return;
    }
    answerOnSocket(socket, clientErrorProblem(error.code));
  });
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    // The socket is ours alone now: an error on it (the peer resetting) must not go unhandled.
    socket.on('error', () => socket.destroy());
    // Not a resource this server has, so no method is allowed on it (an empty Allow, RFC 9110 §10.2.1).
    const problem = new ProblemError(405, 'method-not-allowed', 'Method not allowed', 'this server is not a proxy: CONNECT is not allowed', { allowed: [] });
    answerOnSocket(socket, problem, { Allow: '' });
  });
  return server;
}

/** A problem+json answer written straight to a connection Node took away from Express; then closes it. */
function answerOnSocket(socket: Duplex, problem: ProblemError, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(problem.toBody());
  socket.end(
    [
      `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status] ?? ''}`,
      'Content-Type: application/problem+json; charset=utf-8',
      `Content-Length: ${Buffer.byteLength(body)}`,
      ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
      'Connection: close',
      '',
      body,
    ].join('\r\n'),
  );
}

/** The same statuses Node's own answers use, with a problem that says what to fix. */
function clientErrorProblem(code: string | undefined): ProblemError {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return new ProblemError(
        431,
        'request-header-fields-too-large',
        'Request header fields too large',
        'the request line and header fields together are larger than the server accepts',
      );
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return problems.payloadTooLarge('the chunk extensions of the body are larger than the server accepts');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new ProblemError(408, 'request-timeout', 'Request timeout', 'the request did not arrive in time');
    default:
      return problems.badRequest('the request is not valid HTTP/1.1');
  }
}

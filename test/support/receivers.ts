import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';

/**
 * Local stand-ins for the services notices go to, started by the tests: an HTTP receiver that
 * records what it got and answers as the real service would, and an SMTP server that accepts mail.
 */

export interface ReceivedRequest {
  method: string;
  url: URL;
  headers: IncomingMessage['headers'];
  body: string;
  receivedAt: number;
}

export interface ReceiverAnswer {
  status?: number;
  body: string | object;
}

export type ReceiverHandler = (request: ReceivedRequest) => ReceiverAnswer;

export interface HttpReceiver {
  /** The receiver's base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  requests: ReceivedRequest[];
  /** Resolves at the first request matching `predicate` (or at once if one came already). */
  next(predicate?: (request: ReceivedRequest) => boolean, timeoutMs?: number): Promise<ReceivedRequest>;
  /** Stops listening (a receiver that is down); `start()` listens again on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startHttpReceiver(handler: ReceiverHandler): Promise<HttpReceiver> {
  const requests: ReceivedRequest[] = [];
  const waiters: { predicate: (request: ReceivedRequest) => boolean; resolve: (request: ReceivedRequest) => void }[] = [];
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: ReceivedRequest = {
        method: req.method ?? '',
        url: new URL(req.url ?? '/', 'http://receiver'),
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        receivedAt: Date.now(),
      };
      requests.push(request);
      for (const waiter of [...waiters]) {
        if (waiter.predicate(request)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(request);
        }
      }
      const answer = handler(request);
      const json = typeof answer.body !== 'string';
      res.writeHead(answer.status ?? 200, { 'content-type': json ? 'application/json' : 'text/plain' });
      res.end(json ? JSON.stringify(answer.body) : answer.body);
    });
  };
  let server: Server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const closeServer = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    next(predicate = () => true, timeoutMs = 30_000) {
      const seen = requests.find(predicate);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching request within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({ predicate, resolve: (request) => (clearTimeout(timer), resolve(request)) });
      });
    },
    stop: closeServer,
    async start() {
      server = createServer(listener);
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    },
    close: async () => {
      if (server.listening) await closeServer();
    },
  };
}

export interface SmtpReceiver {
  host: string;
  port: number;
  mails: ParsedMail[];
  /** Envelope recipients of each mail, in order. */
  envelopes: string[][];
  next(timeoutMs?: number): Promise<ParsedMail>;
  close(): Promise<void>;
}

/** A real SMTP server (smtp-server) on a free port, accepting mail for any recipient after a login with `password`. */
export async function startSmtpReceiver(credentials: { username: string; password: string }): Promise<SmtpReceiver> {
  const mails: ParsedMail[] = [];
  const envelopes: string[][] = [];
  const waiters: ((mail: ParsedMail) => void)[] = [];
  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    onAuth(auth, _session, callback) {
      if (auth.username === credentials.username && auth.password === credentials.password) return callback(null, { user: auth.username });
      return callback(new Error('Invalid username or password'));
    },
    onData(stream, session, callback) {
      simpleParser(stream).then(
        (mail) => {
          mails.push(mail);
          envelopes.push(session.envelope.rcptTo.map((rcpt) => rcpt.address));
          waiters.splice(0).forEach((resolve) => resolve(mail));
          callback();
        },
        (error: Error) => callback(error),
      );
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = (server as unknown as { server: Server }).server.address() as AddressInfo;
  return {
    host: '127.0.0.1',
    port,
    mails,
    envelopes,
    next(timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no mail within ${timeoutMs} ms`)), timeoutMs);
        waiters.push((mail) => (clearTimeout(timer), resolve(mail)));
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

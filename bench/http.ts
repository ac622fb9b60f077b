import { Agent, request, type OutgoingHttpHeaders } from 'node:http';

/**
 * JSON over HTTP for the load side of the benchmark. node:http with kept-alive connections costs
 * the load generator far less CPU than fetch, and on a small machine that CPU is taken from the
 * API being measured.
 */
const agent = new Agent({ keepAlive: true, maxSockets: 256 });

export interface JsonAnswer {
  status: number;
  body: unknown;
}

export function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<JsonAnswer> {
  const payload = JSON.stringify(body);
  const jsonHeaders = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers };
  return exchange(url, { method: 'POST', headers: jsonHeaders }, payload);
}

export function getJson(url: string, headers: Record<string, string> = {}): Promise<JsonAnswer> {
  return exchange(url, { method: 'GET', headers });
}

/** Lets the process exit: idle kept-alive sockets would hold it open. */
export function closeConnections(): void {
  agent.destroy();
}

/** One request on the kept-alive agent; the answer's body parsed as JSON (undefined when empty). */
function exchange(url: string, options: { method: string; headers: OutgoingHttpHeaders }, payload?: string): Promise<JsonAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ...options, agent });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined });
      });
    });
    req.end(payload);
  });
}

import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { DOLPHINSCHEDULER_VERSION, dolphinSchedulerSharedDir, ensureDolphinSchedulerJars } from './dolphinscheduler-jars';
import { isAlive, withFileLock } from './file-lock';

/**
 * A real DolphinScheduler for the tests: one that DOLPHINSCHEDULER_URL and DOLPHINSCHEDULER_TOKEN
 * name, or else the 3.1.1 standalone server (API, master, worker and alert server in one JVM,
 * in-memory H2) on this machine, started on first use and shared.
 *
 * Its ports are fixed (12345 API, 5678 master, 1234 worker, 50052 alert), so only one can run per
 * machine: every test run (of any checkout) registers in a machine-wide folder, reuses a healthy
 * server, and the last one to leave stops the server, if a test run started it. A server someone
 * else started is reused and left alone.
 */
export interface DolphinSchedulerServer {
  /** The API root with its context path: `http://127.0.0.1:12345/dolphinscheduler`. */
  readonly url: string;
  readonly token: string;
  /** A tenant (an OS user on the worker) that workflows may run as. */
  readonly tenantCode: string;
  /** Leaves the server; the last test run using a server it started stops it. */
  release(): Promise<void>;
}

const API_PORT = 12345;
const LOCAL_URL = `http://127.0.0.1:${API_PORT}/dolphinscheduler`;
/** The standalone server's administrator. */
const ADMIN = { userName: 'admin', userPassword: 'dolphinscheduler123' };
const START_TIMEOUT_MS = 180_000;
/** The server's flags but for its paths; recorded, so a run reusing a server started otherwise can say so. */
const JVM_FLAGS = [
  '-server',
  '-Duser.timezone=UTC',
  '-Xms512m',
  '-Xmx1g',
  // Java 17: without these a STOP cannot kill a running shell task.
  '--add-opens', 'java.base/java.lang=ALL-UNNAMED',
  '--add-opens', 'java.base/java.lang.invoke=ALL-UNNAMED',
  '--add-opens', 'java.base/java.util=ALL-UNNAMED',
  // The master takes no command and the worker no task while the load average is above twice
  // the cores, which a CI machine shared with other work often is: the tests would only wait.
  '-Dmaster.max-cpu-load-avg=1000',
  '-Dworker.max-cpu-load-avg=1000',
];
const STOP_GRACE_MS = 30_000;
/** Machine-wide, like the ports. */
const stateDir = join(tmpdir(), `flowpilot-dolphinscheduler-${DOLPHINSCHEDULER_VERSION}`);
const usersDir = join(stateDir, 'users');
const serverFile = join(stateDir, 'server.json');
const lockFile = join(stateDir, 'lock');
const repoRoot = resolve(__dirname, '..', '..');

export async function useDolphinScheduler(log: (line: string) => void = () => undefined): Promise<DolphinSchedulerServer> {
  const { DOLPHINSCHEDULER_URL: url, DOLPHINSCHEDULER_TOKEN: token } = process.env;
  if (url && token) {
    const tenantCode = process.env.DOLPHINSCHEDULER_TENANT ?? userInfo().username;
    return { url: url.replace(/\/+$/, ''), token, tenantCode, release: async () => undefined };
  }
  mkdirSync(usersDir, { recursive: true });
  const tenantCode = userInfo().username;
  const userFile = join(usersDir, String(process.pid));
  const issued = await withFileLock(lockFile, async () => {
    writeFileSync(userFile, '');
    try {
      if (!(await canLogIn())) await startServer(log);
      else warnIfStartedDifferently(log);
      const session = await logIn();
      const accessToken = await createAccessToken(session);
      await ensureTenant(accessToken, tenantCode);
      return accessToken;
    } catch (error) {
      rmSync(userFile, { force: true });
      throw error;
    }
  });
  return {
    url: LOCAL_URL,
    token: issued,
    tenantCode,
    release: () =>
      withFileLock(lockFile, async () => {
        rmSync(userFile, { force: true });
        if (liveUsers().length === 0) await stopServerWeStarted(log);
      }),
  };
}

/** Pids of the test runs using the server; files of runs that died are removed. */
function liveUsers(): number[] {
  return readdirSync(usersDir)
    .map(Number)
    .filter((pid) => {
      if (isAlive(pid)) return true;
      rmSync(join(usersDir, String(pid)), { force: true });
      return false;
    });
}

async function startServer(log: (line: string) => void): Promise<void> {
  const libDir = await ensureDolphinSchedulerJars(log);
  const confDir = join(dolphinSchedulerSharedDir(), 'conf');
  const workDir = resolve(repoRoot, process.env.DATA_DIR ?? '.data', 'dolphinscheduler');
  const javaTmp = join(workDir, 'tmp');
  mkdirSync(javaTmp, { recursive: true });
  const logFile = join(workDir, 'server.log');
  const java = process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
  const args = [
    ...JVM_FLAGS,
    `-Djava.io.tmpdir=${javaTmp}`,
    // The shared configuration first, so it wins over anything a jar carries.
    '-cp', `${confDir}:${libDir}/*`,
    'org.apache.dolphinscheduler.StandaloneServer',
  ];
  log(`starting DolphinScheduler ${DOLPHINSCHEDULER_VERSION} standalone (log: ${logFile})`);
  const output = openSync(logFile, 'a');
  // Detached: the server outlives the test run that started it while other runs still use it.
  const child = spawn(java, args, { cwd: workDir, stdio: ['ignore', output, output], detached: true });
  closeSync(output);
  child.unref();
  let exit: string | undefined;
  child.once('error', (error) => (exit = error.message));
  child.once('exit', (code, signal) => (exit = `exited with ${signal ?? code}`));
  if (child.pid === undefined) {
    throw new Error(`could not start ${java}: DolphinScheduler needs Java 17 (or set DOLPHINSCHEDULER_URL and DOLPHINSCHEDULER_TOKEN)`);
  }
  writeFileSync(serverFile, JSON.stringify({ pid: child.pid, startedBy: process.pid, logFile, flags: JVM_FLAGS }));
  const started = Date.now();
  while (Date.now() - started < START_TIMEOUT_MS) {
    if (exit) break;
    if (await canLogIn()) {
      log(`DolphinScheduler answers after ${Math.round((Date.now() - started) / 1000)} s`);
      return;
    }
    await new Promise((done) => setTimeout(done, 1000));
  }
  if (!exit) await stopProcess(child.pid, 0);
  rmSync(serverFile, { force: true });
  throw new Error(`DolphinScheduler did not come up (${exit ?? 'timed out'}); last lines of ${logFile}:\n${tail(logFile)}`);
}

/** A server left by another checkout's test run may lack flags this one relies on: say so, since it cannot be restarted under its users. */
function warnIfStartedDifferently(log: (line: string) => void): void {
  if (!existsSync(serverFile)) return;
  const { flags, logFile } = JSON.parse(readFileSync(serverFile, 'utf8')) as { flags?: string[]; logFile?: string };
  if (JSON.stringify(flags) !== JSON.stringify(JVM_FLAGS)) {
    log(`reusing a DolphinScheduler started with other flags (${flags?.join(' ') ?? 'unknown'}; log: ${logFile}); stop it to get ${JVM_FLAGS.join(' ')}`);
  }
}

async function stopServerWeStarted(log: (line: string) => void): Promise<void> {
  if (!existsSync(serverFile)) return;
  const { pid } = JSON.parse(readFileSync(serverFile, 'utf8')) as { pid: number };
  rmSync(serverFile, { force: true });
  if (!isAlive(pid)) return;
  log('stopping DolphinScheduler');
  await stopProcess(pid, STOP_GRACE_MS);
}

/** SIGTERM (the server shuts down in about 5 s), SIGKILL after the grace period. */
async function stopProcess(pid: number, graceMs: number): Promise<void> {
  try {
    process.kill(pid, graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((done) => setTimeout(done, 200));
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
}

function tail(file: string, lines = 40): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

interface Answer {
  code: number;
  msg: string;
  data: unknown;
}

async function post(path: string, form: Record<string, string>, headers: Record<string, string>): Promise<Answer> {
  const response = await request(`${LOCAL_URL}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.body.text();
  try {
    return JSON.parse(text) as Answer;
  } catch {
    throw new Error(`DolphinScheduler ${path} answered HTTP ${response.statusCode} without JSON`);
  }
}

function expectSuccess(path: string, answer: Answer): unknown {
  if (answer.code !== 0) throw new Error(`DolphinScheduler ${path} failed: ${answer.code} ${answer.msg}`);
  return answer.data;
}

async function canLogIn(): Promise<boolean> {
  try {
    return (await post('/login', ADMIN, {})).code === 0;
  } catch {
    return false;
  }
}

async function logIn(): Promise<string> {
  const data = expectSuccess('/login', await post('/login', ADMIN, {})) as { sessionId: string };
  return data.sessionId;
}

async function createAccessToken(sessionId: string): Promise<string> {
  const expires = new Date(Date.now() + 7 * 24 * 3600_000);
  const data = expectSuccess(
    '/access-tokens',
    await post('/access-tokens', { userId: '1', expireTime: formatDate(expires) }, { cookie: `sessionId=${sessionId}` }),
  ) as { token: string };
  return data.token;
}

/** Workflows run as an OS user that must exist as a tenant first; 10009: it exists already. */
async function ensureTenant(token: string, tenantCode: string): Promise<void> {
  const answer = await post('/tenants', { tenantCode, queueId: '1', description: 'flowpilot tests' }, { token });
  if (answer.code !== 0 && answer.code !== 10009) expectSuccess('/tenants', answer);
}

/** `yyyy-MM-dd HH:mm:ss` in UTC, the standalone server's time zone. */
function formatDate(date: Date): string {
  return date.toISOString().slice(0, 19).replace('T', ' ');
}

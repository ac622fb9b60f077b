import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { migrateDatabase } from '../../scripts/lib/migrate';
import { Keyring } from '../../apps/common/crypto/keyring';
import { EncryptionCodec } from '../../apps/common/crypto/payload-codec';
import { createToken, startApi, type Api } from '../api/harness';

/**
 * The published OpenAPI document is the contract. Schemathesis (installed by scripts/bootstrap.sh)
 * reads /openapi.json of the real API, over a real PostgreSQL and Temporal, and runs every phase
 * (examples, coverage, fuzzing, stateful) with every check and a fixed seed. It must find nothing.
 *
 * Settings and exclusions, each with its reason, are in schemathesis.toml and hooks.py beside
 * this file (and in the README's Tests section):
 *  1. spec operations may answer 422 to a schema-valid spec (graph checks JSON Schema cannot say),
 *     and get no NUL inside a spec's free-form values;
 *  2. POST /api/v1/runs likewise: `input` is checked against the version's own inputs schema;
 *  3. positive cases never carry a made-up paging cursor (opaque: a made-up one is a 400);
 *  4. no run is started in the stateful phase (there is no worker, on purpose);
 *  5. use_after_free is off: the one DELETE archives, and an archived template stays readable;
 *  6. a step dry run may answer 422 to a schema-valid body (a step the version lacks), and gets no
 *     NUL inside its free-form sample values.
 *
 * The API gets a database of its own: the stateful phase changes the templates it can see.
 * Runs land on a task queue no worker polls, so nothing generated is ever executed.
 */

const SEED = 20261129;
const ROOT = resolve(__dirname, '..', '..');
const SCHEMATHESIS = join(ROOT, '.tools', 'venv', 'bin', 'schemathesis');
const CONFIG = join(__dirname, 'schemathesis.toml');
const HOOKS = join(__dirname, 'hooks.py');
/** About 75 s here; the bound is for a much slower machine, not a budget to fill. */
const RUN_LIMIT_MS = 6 * 60_000;

let api: Api;
let database: { admin: string; name: string };
/** A token that may call every operation, so that every operation is explored past its authorization. */
let token: string;

beforeAll(async () => {
  database = await createDatabase(requiredEnv('DATABASE_URL'));
  // With secrets and the payload codec on, so that their routes are fuzzed doing their work.
  api = await startApi({
    databaseUrl: databaseUrl(database.admin, database.name),
    secretsKeys: Keyring.parse(Keyring.generateEntry('contract'), 'SECRETS_KEYS'),
    payloadCodecs: [new EncryptionCodec(Keyring.parse(Keyring.generateEntry('contract'), 'PAYLOAD_CODEC_KEYS'))],
    // No worker runs syncs or inspections here: their documented 202 / `pending` answers come at once.
    historyRefreshWaitMs: 100,
    inspectionWaitMs: 100,
  });
  token = await createToken(api.prisma, { tenantId: api.tenant.id, name: 'schemathesis', roles: ['admin', 'sre'], system: true });
}, 120_000);

afterAll(async () => {
  await api?.close();
  if (database) await dropDatabase(database.admin, database.name);
});

test(
  'the API answers as its OpenAPI document says (Schemathesis, every check, fixed seed)',
  async () => {
    if (!existsSync(SCHEMATHESIS)) throw new Error(`${SCHEMATHESIS} is missing: run scripts/bootstrap.sh`);
    const workDir = mkdtempSync(join(tmpdir(), 'flowpilot-contract-'));
    try {
      const { code, output } = await run(
        SCHEMATHESIS,
        [
          ...['--config-file', CONFIG, 'run', `${api.baseUrl}/openapi.json`],
          ...['--checks', 'all', '--exclude-checks', 'use_after_free'], // exclusion 5
          ...['--seed', String(SEED), '--no-color'],
        ],
        { cwd: workDir, env: { ...process.env, SCHEMATHESIS_HOOKS: HOOKS, NO_COLOR: '1', FLOWPILOT_TOKEN: token } },
      );
      // The whole report stays readable after the run, passed or not.
      mkdirSync(join(ROOT, '.data'), { recursive: true });
      writeFileSync(join(ROOT, '.data', 'schemathesis.txt'), output);
      if (code !== 0) {
        throw new Error(`Schemathesis exited with ${code} (seed ${SEED}); its report (also in .data/schemathesis.txt):\n${report(output)}`);
      }
      expect(output).toMatch(/\d+ generated, \d+ passed/);
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
  },
  RUN_LIMIT_MS + 30_000,
);

function run(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }) {
  return new Promise<{ code: number | null; output: string }>((resolvePromise, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const limit = setTimeout(() => {
      output += `\n[contract test] stopped after ${RUN_LIMIT_MS / 1000} s\n`;
      child.kill('SIGKILL');
    }, RUN_LIMIT_MS);
    child.on('error', (error) => {
      clearTimeout(limit);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(limit);
      resolvePromise({ code, output });
    });
  });
}

/** From the first failure or error on: the part of the report that says what went wrong. */
function report(output: string): string {
  const start = output.search(/^=+ (FAILURES|ERRORS) =+$/m);
  return start >= 0 ? output.slice(start) : output.slice(-20_000);
}

async function createDatabase(admin: string): Promise<{ admin: string; name: string }> {
  const name = `flowpilot_contract_${randomBytes(4).toString('hex')}`;
  const client = new Client({ connectionString: admin });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  await migrateDatabase(databaseUrl(admin, name));
  return { admin, name };
}

async function dropDatabase(admin: string, name: string): Promise<void> {
  const client = new Client({ connectionString: admin });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

function databaseUrl(base: string, name: string): string {
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set; run the tests through jest (global setup provides it)`);
  return value;
}

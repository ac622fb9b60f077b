import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { withFileLock } from './file-lock';

/**
 * DolphinScheduler's standalone server, put together from Maven: the only complete version the
 * Maven registry serves is 3.1.1, and its jars leave out the configuration and the H2 schema, which
 * live in the shared folder next to the project (read from there, never copied in).
 */
export const DOLPHINSCHEDULER_VERSION = '3.1.1';

const repoRoot = resolve(__dirname, '..', '..');
const toolsDir = resolve(repoRoot, '.tools', 'dolphinscheduler', DOLPHINSCHEDULER_VERSION);
const MAVEN_DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.6.1';
const MAVEN_INSTALL_PLUGIN = 'org.apache.maven.plugins:maven-install-plugin:3.1.1';
/** Parents of published jars that the registry lacks; Maven will not read those jars' POMs without them. */
const MISSING_PARENT_POMS = ['dolphinscheduler-registry-plugins', 'dolphinscheduler-scheduler-plugin'];

/**
 * The folder with `artifacts.txt` and `conf/`: DOLPHINSCHEDULER_SHARED_DIR, or else
 * `shared/dolphinscheduler/3.1.1` beside the repository or beside any folder above it (a git
 * worktree may sit deeper than the main checkout).
 */
export function dolphinSchedulerSharedDir(): string {
  const configured = process.env.DOLPHINSCHEDULER_SHARED_DIR;
  if (configured) {
    if (!existsSync(join(configured, 'artifacts.txt'))) {
      throw new Error(`DOLPHINSCHEDULER_SHARED_DIR=${configured} holds no artifacts.txt`);
    }
    return resolve(configured);
  }
  const tried: string[] = [];
  for (let dir = dirname(repoRoot); ; dir = dirname(dir)) {
    const candidate = join(dir, 'shared', 'dolphinscheduler', DOLPHINSCHEDULER_VERSION);
    if (existsSync(join(candidate, 'artifacts.txt'))) return candidate;
    tried.push(candidate);
    if (dirname(dir) === dir) break;
  }
  throw new Error(`DolphinScheduler's shared files not found (tried ${tried.join(', ')}); set DOLPHINSCHEDULER_SHARED_DIR`);
}

export interface MavenArtifact {
  groupId: string;
  artifactId: string;
  version: string;
  classifier?: string;
}

/** `group:artifact:version[:classifier]` lines; `#` starts a comment. */
export function readArtifactList(text: string): MavenArtifact[] {
  return text
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter(Boolean)
    .map((line) => {
      const [groupId, artifactId, version, classifier, ...rest] = line.split(':');
      if (!groupId || !artifactId || !version || rest.length) throw new Error(`not a Maven coordinate: ${line}`);
      return { groupId, artifactId, version, classifier: classifier || undefined };
    });
}

/** The name maven-dependency-plugin's copy gives the jar. */
export function jarFileName(artifact: MavenArtifact): string {
  return `${artifact.artifactId}-${artifact.version}${artifact.classifier ? `-${artifact.classifier}` : ''}.jar`;
}

/**
 * The folder holding every listed jar, fetched with Maven on first use (about 190 MB, ~100 s from
 * an empty cache) and kept in `.tools` afterwards. The folder appears only once complete.
 */
export async function ensureDolphinSchedulerJars(log: (line: string) => void = () => undefined): Promise<string> {
  const artifacts = readArtifactList(readFileSync(join(dolphinSchedulerSharedDir(), 'artifacts.txt'), 'utf8'));
  const libDir = join(toolsDir, 'lib');
  if (isComplete(libDir, artifacts)) return libDir;
  mkdirSync(toolsDir, { recursive: true });
  return withFileLock(join(toolsDir, 'fetch.lock'), async () => {
    if (isComplete(libDir, artifacts)) return libDir; // another process fetched them meanwhile
    log(`fetching DolphinScheduler ${DOLPHINSCHEDULER_VERSION}'s ${artifacts.length} jars with Maven into ${libDir}`);
    const started = Date.now();
    await fetchJars(artifacts, libDir);
    log(`fetched DolphinScheduler's jars in ${Math.round((Date.now() - started) / 1000)} s`);
    return libDir;
  });
}

function isComplete(libDir: string, artifacts: MavenArtifact[]): boolean {
  if (!existsSync(libDir)) return false;
  const present = new Set(readdirSync(libDir));
  return artifacts.every((artifact) => present.has(jarFileName(artifact)));
}

const run = promisify(execFile);

async function fetchJars(artifacts: MavenArtifact[], libDir: string): Promise<void> {
  // A repository of its own: the hand-written parent POMs must not shadow real ones elsewhere.
  const localRepository = join(toolsDir, 'm2');
  const work = mkdtempSync(join(toolsDir, 'fetch-'));
  const partial = join(work, 'lib');
  const maven = async (args: string[], cwd: string) => {
    try {
      await run('mvn', ['-B', '-q', `-Dmaven.repo.local=${localRepository}`, ...args], { cwd, maxBuffer: 64 * 1024 * 1024 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new Error('Maven (mvn) is needed to fetch DolphinScheduler once; install it, or set DOLPHINSCHEDULER_URL and DOLPHINSCHEDULER_TOKEN', { cause: error });
      }
      const { stdout, stderr } = error as { stdout?: string; stderr?: string };
      const output = `${stdout ?? ''}${stderr ?? ''}`.trim().split('\n').slice(-30).join('\n');
      throw new Error(`mvn ${args.at(-1)} failed:\n${output}`, { cause: error });
    }
  };
  try {
    for (const artifactId of MISSING_PARENT_POMS) {
      const pom = join(work, `${artifactId}.pom`);
      writeFileSync(pom, parentPom(artifactId));
      await maven([`-Dfile=${pom}`, `-DpomFile=${pom}`, '-Dpackaging=pom', `${MAVEN_INSTALL_PLUGIN}:install-file`], work);
    }
    const project = join(work, 'copy');
    mkdirSync(project);
    writeFileSync(join(project, 'pom.xml'), copyPom(artifacts, partial));
    await maven([`${MAVEN_DEPENDENCY_PLUGIN}:copy`], project);
    if (!isComplete(partial, artifacts)) throw new Error(`Maven finished but ${partial} misses some of the listed jars`);
    rmSync(libDir, { recursive: true, force: true });
    renameSync(partial, libDir);
    // The jars are all in lib now; the repository would only double the cache's size.
    rmSync(localRepository, { recursive: true, force: true });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function parentPom(artifactId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <parent>
    <groupId>org.apache.dolphinscheduler</groupId>
    <artifactId>dolphinscheduler</artifactId>
    <version>${DOLPHINSCHEDULER_VERSION}</version>
  </parent>
  <artifactId>${artifactId}</artifactId>
  <packaging>pom</packaging>
</project>
`;
}

/** A throwaway project whose only work is copying each listed jar, without its dependencies. */
function copyPom(artifacts: MavenArtifact[], outputDirectory: string): string {
  const [pluginGroup, pluginArtifact, pluginVersion] = MAVEN_DEPENDENCY_PLUGIN.split(':');
  const items = artifacts
    .map(
      (a) =>
        `        <artifactItem><groupId>${a.groupId}</groupId><artifactId>${a.artifactId}</artifactId><version>${a.version}</version>` +
        `${a.classifier ? `<classifier>${a.classifier}</classifier>` : ''}<type>jar</type></artifactItem>`,
    )
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.flowpilot</groupId>
  <artifactId>dolphinscheduler-jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <build>
    <plugins>
      <plugin>
        <groupId>${pluginGroup}</groupId>
        <artifactId>${pluginArtifact}</artifactId>
        <version>${pluginVersion}</version>
        <configuration>
          <outputDirectory>${outputDirectory}</outputDirectory>
          <artifactItems>
${items}
          </artifactItems>
        </configuration>
      </plugin>
    </plugins>
  </build>
</project>
`;
}

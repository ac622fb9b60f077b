import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dolphinSchedulerSharedDir, jarFileName, readArtifactList } from '../../../scripts/lib/dolphinscheduler-jars';
import { isAlive, withFileLock } from '../../../scripts/lib/file-lock';

/** The pieces of the DolphinScheduler set-up that need no server: the shared files and the lock. */

describe('DolphinScheduler shared files', () => {
  it('are found beside the checkout or a folder above it, and list the 430 jars of 3.1.1', () => {
    const shared = dolphinSchedulerSharedDir();
    expect(existsSync(join(shared, 'conf', 'application.yaml'))).toBe(true);
    const artifacts = readArtifactList(readFileSync(join(shared, 'artifacts.txt'), 'utf8'));
    expect(artifacts).toHaveLength(430);
    expect(artifacts).toContainEqual({
      groupId: 'org.apache.dolphinscheduler',
      artifactId: 'dolphinscheduler-standalone-server',
      version: '3.1.1',
      classifier: undefined,
    });
    expect(new Set(artifacts.map(jarFileName)).size).toBe(430);
  });

  it('may be named by DOLPHINSCHEDULER_SHARED_DIR, which must hold the artifact list', () => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'ds-shared-'));
    const previous = process.env.DOLPHINSCHEDULER_SHARED_DIR;
    try {
      process.env.DOLPHINSCHEDULER_SHARED_DIR = elsewhere;
      expect(() => dolphinSchedulerSharedDir()).toThrow('holds no artifacts.txt');
      writeFileSync(join(elsewhere, 'artifacts.txt'), '# none\n');
      expect(dolphinSchedulerSharedDir()).toBe(elsewhere);
    } finally {
      if (previous === undefined) delete process.env.DOLPHINSCHEDULER_SHARED_DIR;
      else process.env.DOLPHINSCHEDULER_SHARED_DIR = previous;
    }
  });

  it('reads coordinates with and without a classifier, skips comments, and refuses anything else', () => {
    expect(readArtifactList('# heading\na.b:c:1.0\n\nio.netty:netty-transport-native-epoll:4.1.53.Final:linux-x86_64 # native\n')).toEqual([
      { groupId: 'a.b', artifactId: 'c', version: '1.0', classifier: undefined },
      { groupId: 'io.netty', artifactId: 'netty-transport-native-epoll', version: '4.1.53.Final', classifier: 'linux-x86_64' },
    ]);
    expect(jarFileName({ groupId: 'io.netty', artifactId: 'netty-transport-native-epoll', version: '4.1.53.Final', classifier: 'linux-x86_64' })).toBe(
      'netty-transport-native-epoll-4.1.53.Final-linux-x86_64.jar',
    );
    expect(() => readArtifactList('just-a-name\n')).toThrow('not a Maven coordinate');
  });
});

describe('withFileLock', () => {
  it('lets one holder in at a time', async () => {
    const lock = join(mkdtempSync(join(tmpdir(), 'lock-')), 'lock');
    const order: string[] = [];
    const hold = (name: string) =>
      withFileLock(lock, async () => {
        order.push(`${name} in`);
        await new Promise((resolve) => setTimeout(resolve, 700));
        order.push(`${name} out`);
      });
    await Promise.all([hold('a'), hold('b')]);
    expect(order).toEqual(['a in', 'a out', 'b in', 'b out']);
    expect(existsSync(lock)).toBe(false);
  });

  it('takes over a lock whose holder died', async () => {
    const lock = join(mkdtempSync(join(tmpdir(), 'lock-')), 'lock');
    const child = spawn(process.execPath, ['-e', '']);
    const deadPid = await new Promise<number>((resolve) => child.once('exit', () => resolve(child.pid!)));
    expect(isAlive(deadPid)).toBe(false);
    writeFileSync(lock, String(deadPid));
    await expect(withFileLock(lock, async () => 'taken', 5_000)).resolves.toBe('taken');
  });
});

import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';

/**
 * Runs `work` while holding a lock file that other processes on the machine respect: created
 * exclusively, holding the owner's pid, so a lock left by a process that died is taken over.
 */
export async function withFileLock<T>(path: string, work: () => Promise<T>, timeoutMs = 15 * 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let content: string;
      try {
        content = readFileSync(path, 'utf8').trim();
      } catch {
        continue; // released in between
      }
      const owner = Number(content);
      // An empty file is a lock being taken right now, not an abandoned one.
      if (content !== '' && !isAlive(owner)) {
        rmSync(path, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`lock ${path} is held by process ${owner} for too long`, { cause: error });
      await new Promise((done) => setTimeout(done, 500));
    }
  }
  try {
    return await work();
  } finally {
    rmSync(path, { force: true });
  }
}

/** Whether a process with this pid exists (a pid of 0 or NaN does not). */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

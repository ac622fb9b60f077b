import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../support/worker';
import { fromHistoryFile } from './history-file';

/**
 * Replays every recorded history (test/replay/histories, made by record.ts) against the current
 * workflow code. A failure here means a change would break runs already in flight: keep the old
 * behaviour for old histories behind `patched()`, then re-record.
 */
const historiesDir = join(__dirname, 'histories');
const files = readdirSync(historiesDir).filter((file) => file.endsWith('.json')).sort();

test('recorded histories exist', () => {
  expect(files.length).toBeGreaterThanOrEqual(5);
});

test('every recorded history replays against the current workflow code', async () => {
  const histories = files.map((file) => ({
    workflowId: file.replace(/\.json$/, ''),
    history: fromHistoryFile(readFileSync(join(historiesDir, file), 'utf8')),
  }));
  const failures: string[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories)) {
    if (result.error) failures.push(`${result.workflowId}: ${String(result.error)}`);
  }
  expect(failures).toEqual([]);
});

import diff from 'microdiff';
import type { Spec } from '../../../../workflows/spec/schema';

/**
 * Structural diff of two parsed specs. Steps and groups are matched by id, not by position, so
 * reordering the list or inserting a step in the middle reports what a reviewer would expect.
 */

export interface FieldChange {
  /** Dotted path inside the compared value, e.g. "with.url" or "dependsOn.0". */
  path: string;
  kind: 'added' | 'removed' | 'changed';
  from?: unknown;
  to?: unknown;
}

export interface ItemChanges {
  added: string[];
  removed: string[];
  changed: { id: string; changes: FieldChange[] }[];
}

export interface SpecDiff {
  from: number;
  to: number;
  steps: ItemChanges;
  groups: ItemChanges;
  inputs: FieldChange[];
  timeout: FieldChange | null;
  description: FieldChange | null;
}

export interface NumberedSpec {
  number: number;
  spec: Spec;
}

export function diffSpecs(from: NumberedSpec, to: NumberedSpec): SpecDiff {
  return {
    from: from.number,
    to: to.number,
    steps: diffById(from.spec.steps, to.spec.steps),
    groups: diffById(from.spec.groups, to.spec.groups),
    inputs: diffFields(from.spec.inputs, to.spec.inputs),
    timeout: diffScalar('timeout', from.spec.timeout, to.spec.timeout),
    description: diffScalar('description', from.spec.description, to.spec.description),
  };
}

function diffById<Item extends { id: string }>(before: Item[], after: Item[]): ItemChanges {
  const beforeById = new Map(before.map((item) => [item.id, item]));
  const afterById = new Map(after.map((item) => [item.id, item]));
  const changes: ItemChanges = { added: [], removed: [], changed: [] };
  for (const [id, item] of afterById) {
    const previous = beforeById.get(id);
    if (previous === undefined) {
      changes.added.push(id);
      continue;
    }
    const fieldChanges = diffFields(previous, item);
    if (fieldChanges.length > 0) changes.changed.push({ id, changes: fieldChanges });
  }
  for (const id of beforeById.keys()) {
    if (!afterById.has(id)) changes.removed.push(id);
  }
  return changes;
}

function diffFields(before: object, after: object): FieldChange[] {
  return diff(before as Record<string, unknown>, after as Record<string, unknown>).map((change): FieldChange => {
    const path = change.path.join('.');
    switch (change.type) {
      case 'CREATE':
        return { path, kind: 'added', to: change.value };
      case 'REMOVE':
        return { path, kind: 'removed', from: change.oldValue };
      case 'CHANGE':
        return { path, kind: 'changed', from: change.oldValue, to: change.value };
    }
  });
}

function diffScalar(path: string, before: string | undefined, after: string | undefined): FieldChange | null {
  if (before === after) return null;
  if (before === undefined) return { path, kind: 'added', to: after };
  if (after === undefined) return { path, kind: 'removed', from: before };
  return { path, kind: 'changed', from: before, to: after };
}

import type { Template, TemplateVersion } from '@prisma/client';
import type { Spec } from '../../../../workflows/spec/schema';

/** How rows are shown to API callers: ISO timestamps, labels as a plain map, no internal ids. */

export interface TemplateView {
  id: string;
  name: string;
  description: string;
  labels: Record<string, string>;
  owner: string | null;
  archived: boolean;
  latestVersion: number;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

export interface VersionView {
  templateId: string;
  number: number;
  spec: Spec;
  specHash: string;
  author: string;
  message: string;
  createdAt: string;
}

export function templateView(row: Template): TemplateView {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    labels: row.labels as Record<string, string>,
    owner: row.owner,
    archived: row.archived,
    latestVersion: row.latestVersion,
    createdBy: row.createdBy,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

export function versionView(row: TemplateVersion): VersionView {
  return {
    templateId: row.templateId,
    number: row.number,
    // Versions store only specs that passed validateSpec, already parsed.
    spec: row.spec as unknown as Spec,
    specHash: row.specHash,
    author: row.author,
    message: row.message,
    createdAt: row.createdAt.toISOString(),
  };
}

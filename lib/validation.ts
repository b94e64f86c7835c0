/** Zod's issues in the words of this product's refusals (see ValidationError in errors.ts). */
import type { z } from 'zod';
import type { FieldIssue } from './errors.js';

/** A path as the API shows it: `messages[3].payload.to`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const key of path) {
    if (typeof key === 'number') text += `[${key}]`;
    else text += text === '' ? String(key) : `.${String(key)}`;
  }
  return text;
}

/** Zod's issues as the API's, each under `basePath`. Unrecognized keys are named one by one. */
export function issuesFromZod(error: z.ZodError, basePath: readonly PropertyKey[] = []): FieldIssue[] {
  return error.issues.flatMap((issue): FieldIssue[] => {
    const path = [...basePath, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ field: formatPath([...path, key]), rule: 'unrecognized_key', message: `unknown field "${key}"` }));
    }
    const rule =
      issue.code === 'custom' && typeof issue.params?.rule === 'string'
        ? issue.params.rule
        : issue.code === 'invalid_format'
          ? `invalid_format:${issue.format}`
          : issue.code;
    return [{ field: formatPath(path), rule, message: issue.message }];
  });
}

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

/**
 * Zod's issues as the API's, each under `basePath`. Unrecognized keys are named one by one; a
 * record key that breaks its rule is named as the field (`headers.X Foo`) with that rule's words.
 */
export function issuesFromZod(error: z.ZodError, basePath: readonly PropertyKey[] = []): FieldIssue[] {
  return issuesOf(error.issues, basePath);
}

function issuesOf(issues: readonly z.core.$ZodIssue[], basePath: readonly PropertyKey[]): FieldIssue[] {
  return issues.flatMap((issue): FieldIssue[] => {
    const path = [...basePath, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ field: formatPath([...path, key]), rule: 'unrecognized_key', message: `unknown field "${key}"` }));
    }
    // Zod says only "Invalid key in record"; the key's own issues say what is wrong with it.
    if (issue.code === 'invalid_key' && issue.issues.length > 0) return issuesOf(issue.issues, path);
    return [{ field: formatPath(path), rule: ruleOf(issue), message: issue.message }];
  });
}

/**
 * The rule an issue names: a refinement's `params.rule` (every refine of this product gives one),
 * `invalid_format:<format>` for a format, otherwise zod's code (`too_small`, `invalid_type`, ...).
 * A refinement without a rule is `invalid` rather than zod's uninformative `custom`.
 */
export function ruleOf(issue: z.core.$ZodIssue): string {
  if (issue.code === 'custom') return typeof issue.params?.rule === 'string' ? issue.params.rule : 'invalid';
  if (issue.code === 'invalid_format') return `invalid_format:${issue.format}`;
  if (issue.code === 'invalid_key') return issue.issues[0] === undefined ? 'invalid_key' : ruleOf(issue.issues[0]);
  return issue.code;
}

/** A configuration entry's zod issues as lines that name the entry, the setting and the rule. */
export function configProblems(label: string, error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const field = issue.path.join('.');
    const message = issue.code === 'unrecognized_keys' ? `unknown setting${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}` : issue.message;
    return `${label}: ${field ? `${field} ` : ''}${message}`;
  });
}

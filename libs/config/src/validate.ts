import type { z } from 'zod';

/** A configuration that failed validation; `issues` name each field. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly issues: string[],
  ) {
    super(`invalid ${source}:\n  ${issues.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** ` (got "abc")` for a wrong-typed value short enough to repeat, else ''. */
function received(issue: { code: string; input?: unknown }): string {
  if (issue.code !== 'invalid_type') return '';
  const { input } = issue;
  if (typeof input !== 'string' && typeof input !== 'boolean') {
    if (typeof input !== 'number' || Number.isFinite(input)) return '';
  }
  const text = typeof input === 'number' ? String(input) : JSON.stringify(input);
  return ` (got ${text.length > 40 ? `${text.slice(0, 39)}…` : text})`;
}

/**
 * Validates `value` against `schema` before any work starts. Unknown keys,
 * wrong types and out-of-range values become one error listing every field.
 */
export function parseConfig<S extends z.ZodType>(
  schema: S,
  value: unknown,
  source: string,
): z.output<S> {
  const parsed = schema.safeParse(value, { reportInput: true });
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => {
    const path = issue.path.length ? issue.path.join('.') : '(root)';
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.map((k) => (path === '(root)' ? k : `${path}.${k}`));
      return `${keys.join(', ')}: unknown key${keys.length > 1 ? 's' : ''}`;
    }
    return `${path}: ${issue.message}${received(issue)}`;
  });
  throw new ConfigError(source, issues);
}

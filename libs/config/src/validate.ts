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

/** Codes of the issues about one value, which the message then repeats. */
const ECHOED = new Set([
  'invalid_type',
  'too_big',
  'too_small',
  'invalid_value',
  'invalid_format',
]);

/** ` (got "abc")` for a bad value short enough to repeat, else ''. */
function received(issue: { code: string; input?: unknown }): string {
  if (!ECHOED.has(issue.code)) return '';
  const { input } = issue;
  if (
    typeof input !== 'string' &&
    typeof input !== 'boolean' &&
    typeof input !== 'number'
  ) {
    return '';
  }
  const text = typeof input === 'number' ? String(input) : JSON.stringify(input);
  return ` (got ${text.length > 40 ? `${text.slice(0, 39)}…` : text})`;
}

/** The message of one issue: a missing value is "required". */
function message(issue: z.core.$ZodIssue & { input?: unknown }): string {
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    return `required (expected ${issue.expected})`;
  }
  if (issue.code === 'invalid_value' && issue.input === undefined) {
    const values = issue.values.map((v) => JSON.stringify(v)).join(', ');
    return `required (expected one of ${values})`;
  }
  return `${issue.message}${received(issue)}`;
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
    return `${path}: ${message(issue)}`;
  });
  throw new ConfigError(source, issues);
}

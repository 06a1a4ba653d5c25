import { imagePinProblem } from './policy.js';

/** One Dockerfile instruction with its continuation lines joined. */
export interface Instruction {
  op: string;
  args: string;
  line: number;
}

/** One build stage: its base image (ARGs substituted) and instructions. */
export interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** Splits a Dockerfile into instructions (comments dropped, `\` lines joined). */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trimEnd();
    if (!pending && (line.trim() === '' || line.trim().startsWith('#'))) return;
    if (pending && line.trim().startsWith('#')) return;
    if (!pending) start = i + 1;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const full = (pending + line).trim();
    pending = '';
    const space = full.search(/\s/);
    out.push({
      op: (space < 0 ? full : full.slice(0, space)).toUpperCase(),
      args: space < 0 ? '' : full.slice(space + 1).trim(),
      line: start,
    });
  });
  return out;
}

/** The stages of a Dockerfile, with global ARG defaults substituted in FROM. */
export function stagesOf(instructions: Instruction[]): Stage[] {
  const globals: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.op === 'ARG' && stages.length === 0) {
      const [name, value = ''] = ins.args.split('=');
      globals[name.trim()] = value.trim();
      continue;
    }
    if (ins.op === 'FROM') {
      const parts = ins.args
        .split(/\s+/)
        .filter((p) => !p.startsWith('--'))
        .map((p) =>
          p.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, n) => globals[n] ?? ''),
        );
      const as = parts.findIndex((p) => p.toUpperCase() === 'AS');
      stages.push({
        from: parts[0],
        name: as > 0 ? parts[as + 1] : undefined,
        instructions: [],
      });
      continue;
    }
    stages.at(-1)?.instructions.push(ins);
  }
  return stages;
}

/**
 * The image rules for a Dockerfile: every base image is an earlier stage or
 * pinned by tag or digest, and the final stage runs as a numeric non-root user.
 * Returns one message per violation.
 */
export function dockerfileViolations(text: string): string[] {
  const out: string[] = [];
  const stages = stagesOf(parseDockerfile(text));
  if (!stages.length) return ['no FROM instruction'];
  const names = new Set<string>();
  for (const s of stages) {
    if (!names.has(s.from)) {
      const problem = imagePinProblem(s.from);
      if (problem) out.push(`FROM ${s.from || '(empty)'}: ${problem}`);
    }
    if (s.name) names.add(s.name);
  }
  const user = finalUser(text);
  if (user === undefined) out.push('the final stage sets no USER (it would run as root)');
  else if (!/^[1-9]\d*(:\d+)?$/.test(user)) {
    out.push(`final USER ${user}: use a numeric non-zero uid (runAsNonRoot needs one)`);
  }
  return out;
}

/** The USER the final stage ends with, if any. */
export function finalUser(text: string): string | undefined {
  const stages = stagesOf(parseDockerfile(text));
  return stages
    .at(-1)
    ?.instructions.filter((i) => i.op === 'USER')
    .at(-1)?.args;
}

/** Source paths of the COPY/ADD instructions that read the build context. */
export function contextSources(text: string): string[] {
  return parseDockerfile(text)
    .filter((i) => (i.op === 'COPY' || i.op === 'ADD') && !/--from=/.test(i.args))
    .flatMap((i) => {
      const parts = i.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      return parts.slice(0, -1);
    });
}

interface IgnoreRule {
  negate: boolean;
  re: RegExp;
}

function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '*' && pattern[i + 1] === '*') {
      i++;
      if (pattern[i + 1] === '/') {
        i++;
        re += '(?:.*/)?';
      } else re += '.*';
    } else if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * Whether a context path reaches the build under a .dockerignore: rules in
 * order, the last that matches the path or one of its parent folders wins.
 */
export function dockerIgnoreIncludes(ignoreText: string, path: string): boolean {
  const rules: IgnoreRule[] = ignoreText
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const body = (negate ? l.slice(1) : l).replace(/^\/+/, '').replace(/\/+$/, '');
      return { negate, re: globToRegExp(body) };
    });
  const parts = path.split('/');
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let excluded = false;
  for (const rule of rules) {
    if (candidates.some((c) => rule.re.test(c))) excluded = !rule.negate;
  }
  return !excluded;
}

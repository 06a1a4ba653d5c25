import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { checkVectorsCommand } from './check-vectors.js';
import {
  checkLocalServices,
  checkOutputDirectory,
  maxWorkers,
  parseNatsUrl,
  parseWorkers,
  redactUrlCredentials,
  serviceLogLevel,
} from './options.js';
import { InterruptedError, studyCommand } from './study.js';
import { submitCommand } from './submit.js';
import { statusCommand, watchCommand } from './watch.js';

const bin = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'bin',
  'vicinal.mjs',
);

/**
 * Parses ARGS with ENV set, the command's action replaced by a marker: what
 * commander refused (exit code and message) and whether the action ran.
 */
async function parse(
  command: Command,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ ran: boolean; exitCode: number | null; stderr: string }> {
  let ran = false;
  let stderr = '';
  command
    .action(() => {
      ran = true;
    })
    .exitOverride()
    .configureOutput({ writeErr: (s) => (stderr += s) });
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    await command.parseAsync(args, { from: 'user' });
    return { ran, exitCode: null, stderr };
  } catch (err) {
    return { ran, exitCode: (err as { exitCode: number }).exitCode, stderr };
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

test('VICINAL_BACKEND is refused like --backend, naming it and the choices, before the action', async () => {
  const flag = await parse(studyCommand(), ['cfg.yaml', '--backend', 'foo']);
  assert.equal(flag.ran, false);
  const commands: [() => Command, string[]][] = [
    [studyCommand, ['cfg.yaml']],
    [submitCommand, ['cfg.yaml', '--nats', 'nats://127.0.0.1:4222']],
    [() => checkVectorsCommand(), ['vectors.json']],
  ];
  for (const [make, args] of commands) {
    const run = await parse(make(), args, { VICINAL_BACKEND: 'foo' });
    assert.equal(run.ran, false, args.join(' '));
    assert.equal(run.exitCode, flag.exitCode);
    assert.match(run.stderr, /'foo' from env 'VICINAL_BACKEND' is invalid/);
    assert.match(run.stderr, /auto, tensorflow-gpu, tensorflow, wasm, cpu/);
  }
  // The flag wins over the variable; a valid variable is the default.
  const both = await parse(studyCommand(), ['--backend', 'cpu'], {
    VICINAL_BACKEND: 'foo',
  });
  assert.equal(both.ran, true);
  const command = studyCommand();
  assert.equal((await parse(command, [], { VICINAL_BACKEND: 'wasm' })).ran, true);
  assert.equal(command.opts().backend, 'wasm');
});

test('VICINAL_NATS_URL is checked like --nats before the action', async () => {
  for (const make of [() => watchCommand(), statusCommand]) {
    for (const bad of ['', 'nats://127.0.0.1:port']) {
      const run = await parse(make(), ['s'], { VICINAL_NATS_URL: bad });
      assert.equal(run.ran, false);
      assert.equal(run.exitCode, 1);
      assert.match(run.stderr, /from env 'VICINAL_NATS_URL' is invalid/);
    }
    const flag = await parse(make(), ['s', '--nats', 'nats://127.0.0.1:port']);
    assert.equal(flag.ran, false);
    assert.match(flag.stderr, /Expected a NATS URL/);
    // A URL of another scheme is not a NATS server's.
    for (const scheme of ['ftp', 'http']) {
      const other = await parse(make(), ['s', '--nats', `${scheme}://127.0.0.1:4222`]);
      assert.equal(other.ran, false, scheme);
      assert.match(other.stderr, /Expected a NATS URL/);
    }
  }
  for (const good of [
    'nats://127.0.0.1:4222',
    'nats',
    'tls://a:1,nats://b:2',
    'h:4222',
  ]) {
    assert.equal(parseNatsUrl(good), good);
  }
});

test('URL credentials are hidden in what the command line echoes', () => {
  assert.equal(
    redactUrlCredentials(
      "argument 'nats://alice:s3cret@h:4222,tls://bob@k:1' is invalid; see http://docs/x",
    ),
    "argument 'nats://***@h:4222,tls://***@k:1' is invalid; see http://docs/x",
  );
  // An unescaped @ in the password, and no scheme at all.
  assert.equal(
    redactUrlCredentials('at nats://alice:p@ss@127.0.0.1:1 and alice:s3cret@127.0.0.1:2'),
    'at nats://***@127.0.0.1:1 and ***@127.0.0.1:2',
  );
  assert.equal(redactUrlCredentials('no credentials: h:4222'), 'no credentials: h:4222');
  // A refused --nats value, as a user typed it: the password is not printed.
  const run = spawnSync(
    process.execPath,
    [bin, 'status', 's', '--nats', 'http://alice:s3cret@127.0.0.1:4222'],
    { encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(run.status, 2);
  assert.match(run.stderr, /http:\/\/\*\*\*@127\.0\.0\.1:4222/);
  assert.match(run.stderr, /Expected a NATS URL/);
  assert.doesNotMatch(run.stderr, /s3cret|alice/);
});

test('a wrong VICINAL_METRICS_PORT is one line, exit 1, before the command runs', () => {
  const run = spawnSync(
    process.execPath,
    [bin, 'status', 's', '--nats', 'nats://127.0.0.1:1'],
    {
      encoding: 'utf8',
      env: { ...process.env, VICINAL_METRICS_PORT: 'abc' },
      timeout: 60_000,
    },
  );
  assert.equal(run.status, 1);
  assert.equal(
    run.stderr,
    'vicinal: VICINAL_METRICS_PORT: expected a port 1-65535, got "abc"\n',
  );
});

test('--out: a directory or a path that can become one', () => {
  const root = mkdtempSync(join(tmpdir(), 'vicinal-out-'));
  try {
    const file = join(root, 'file');
    writeFileSync(file, '');
    checkOutputDirectory(root);
    checkOutputDirectory(join(root, 'new', 'deeper'));
    assert.throws(
      () => checkOutputDirectory(file),
      new RegExp(
        `${file}: expected a directory \\(or a path that does not exist yet\\), got a file`,
      ),
    );
    assert.throws(
      () => checkOutputDirectory(join(file, 'sub', 'dir')),
      new RegExp(`cannot be a directory, ${file} is a file`),
    );
    // The option is named: --cache-dir is checked alike.
    assert.throws(
      () => checkOutputDirectory(file, '--cache-dir'),
      /^ConfigError: invalid --cache-dir:\n/,
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a directory option this user may not write in is refused', {
  skip: process.getuid?.() === 0 ? 'root may write anywhere' : false,
}, () => {
  const root = mkdtempSync(join(tmpdir(), 'vicinal-out-'));
  try {
    chmodSync(root, 0o500);
    assert.throws(
      () => checkOutputDirectory(join(root, 'new'), '--cache-dir'),
      new RegExp(`expected a directory this user may write in; ${root} is not writable`),
    );
  } finally {
    chmodSync(root, 0o700);
    rmSync(root, { recursive: true, force: true });
  }
});

test('VICINAL_LOG_LEVEL for the services a study starts: a known level, else refused', () => {
  assert.equal(serviceLogLevel(undefined), 'info');
  assert.equal(serviceLogLevel(''), 'info');
  assert.equal(serviceLogLevel(' Debug '), 'debug');
  assert.throws(
    () => serviceLogLevel('loud'),
    /^ConfigError: invalid VICINAL_LOG_LEVEL:\n {2}expected one of trace, debug, info, warn, error, fatal, silent, got "loud"$/,
  );
});

test('--workers is bounded: 4 per CPU core', async () => {
  assert.equal(maxWorkers(2), 8);
  assert.equal(parseWorkers('8', 8), 8);
  assert.equal(parseWorkers('1', 8), 1);
  for (const bad of ['0', '9', '1000', '2.5', 'two', '']) {
    assert.throws(
      () => parseWorkers(bad, 8),
      new RegExp(
        `invalid --workers:\\n {2}expects an integer from 1 to 8 \\(4 per CPU core\\), got "${bad}"`,
      ),
    );
  }
  // Through the command line, before anything is read or started.
  await assert.rejects(
    studyCommand().parseAsync(['absent.yaml', '--workers', '1000'], { from: 'user' }),
    new RegExp(`invalid --workers:\\n {2}expects an integer from 1 to ${maxWorkers()} `),
  );
  assert.match(studyCommand().helpInformation(), /1 to \d+ \(4 per CPU\s+core\)/);
});

test('--no-local-services without --nats is refused before anything starts', async () => {
  assert.throws(
    () => checkLocalServices({ localServices: false }),
    /invalid --no-local-services:\n {2}needs --nats URL, the NATS where the teacher servers/,
  );
  checkLocalServices({ localServices: false, nats: 'nats://127.0.0.1:4222' });
  checkLocalServices({ localServices: true });
  // The command checks it first: the missing config file is not even read.
  await assert.rejects(
    studyCommand().parseAsync(['absent.yaml', '--no-local-services'], { from: 'user' }),
    /invalid --no-local-services/,
  );
  assert.match(studyCommand().helpInformation(), /--nats, which this\s+needs/);
});

test('--workers with --no-local-services is refused: no trainers start here', async () => {
  const nats = 'nats://127.0.0.1:4222';
  assert.throws(
    () => checkLocalServices({ localServices: false, nats, workersGiven: true }),
    /invalid --workers:\n {2}has no effect with --no-local-services: no student trainers start here/,
  );
  checkLocalServices({ localServices: false, nats, workersGiven: false });
  checkLocalServices({ localServices: true, workersGiven: true });
  await assert.rejects(
    studyCommand().parseAsync(
      ['absent.yaml', '--no-local-services', '--nats', nats, '--workers', '3'],
      { from: 'user' },
    ),
    /invalid --workers:\n {2}has no effect with --no-local-services/,
  );
  // The default of --workers is not a choice the user made.
  await assert.rejects(
    studyCommand().parseAsync(['absent.yaml', '--no-local-services', '--nats', nats], {
      from: 'user',
    }),
    (err: Error) => !/--workers/.test(err.message),
  );
});

test('a study stopped by a signal exits as a shell reports it: 128 + the signal number', () => {
  assert.equal(new InterruptedError('SIGINT').exitCode, 130);
  assert.equal(new InterruptedError('SIGTERM').exitCode, 143);
  assert.match(
    new InterruptedError('SIGTERM').message,
    /^study interrupted by SIGTERM; every process it started was stopped/,
  );
});

test('usage errors and bad settings exit 2 through the vicinal command; help exits 0', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vicinal-usage-'));
  try {
    const badYaml = join(dir, 'bad.yaml');
    writeFileSync(badYaml, 'name: x\nteachers: [a,\n');
    const cases: [string[], number, RegExp][] = [
      [['study', '--bogus'], 2, /unknown option '--bogus'/],
      [['study', '--workers', '0'], 2, /invalid --workers:\n {2}expects an integer/],
      [['study', '--backend', 'nope'], 2, /argument 'nope' is invalid/],
      [
        // The error is at the end of the file (line 3, empty): the caret sits
        // under that empty line, not under line 2.
        ['study', badYaml],
        2,
        /invalid .*bad\.yaml:\n {2}not valid YAML: [^\n]* at line 3, column 1\n {4}teachers: \[a,\n\n {4}\^\n*$/,
      ],
      [
        ['study', join(dir, 'absent.yaml')],
        2,
        /invalid .*absent\.yaml:\n {2}cannot read the study settings: ENOENT/,
      ],
      [['dataset', 'inspect', '--bogus'], 2, /unknown option '--bogus'/],
      [['--help'], 0, /^$/],
    ];
    for (const [args, code, stderr] of cases) {
      const run = spawnSync(process.execPath, [bin, ...args], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(run.status, code, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, stderr, args.join(' '));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

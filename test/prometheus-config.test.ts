import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { serviceTelemetryEnv } from '../apps/cli/src/study/services.js';

// deploy/prometheus/prometheus.yml scrapes a local `vicinal study` started with
// VICINAL_METRICS_PORT: its jobs must be the services' names and its targets
// the ports the study gives them, or the example scrapes nothing.

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const file = join(root, 'deploy', 'prometheus', 'prometheus.yml');

interface ScrapeConfig {
  job_name: string;
  static_configs: { targets: string[] }[];
}

const ports = (job: ScrapeConfig) =>
  job.static_configs.flatMap((c) => c.targets).map((t) => Number(t.split(':')[1]));

test('the local Prometheus config scrapes the ports a study hands out', () => {
  const config = parse(readFileSync(file, 'utf8')) as { scrape_configs: ScrapeConfig[] };
  const job = (name: string) => {
    const found = config.scrape_configs.find((c) => c.job_name === name);
    assert.ok(found, `a scrape job ${name}`);
    return found;
  };
  const [base] = ports(job('vicinal-coordinator'));
  const parent = { VICINAL_METRICS_PORT: String(base) };
  // The study starts the teacher server first, then the student trainers.
  const teacher = serviceTelemetryEnv('teacher-server', 'teacher-server', 1, parent);
  assert.deepEqual(ports(job(teacher.OTEL_SERVICE_NAME)), [
    Number(teacher.VICINAL_METRICS_PORT),
  ]);
  const students = [2, 3].map((i) =>
    serviceTelemetryEnv('student-trainer', `student-trainer-${i - 1}`, i, parent),
  );
  assert.deepEqual(
    ports(job(students[0].OTEL_SERVICE_NAME)),
    students.map((s) => Number(s.VICINAL_METRICS_PORT)),
  );
  for (const c of config.scrape_configs) {
    for (const t of c.static_configs.flatMap((s) => s.targets)) {
      assert.match(t, /^127\.0\.0\.1:\d+$/, 'loopback targets only');
    }
  }
});

test('a child gets no metrics port unless the study has one', () => {
  const env = serviceTelemetryEnv('student-trainer', 'w1', 2, {
    OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=dev',
  });
  assert.equal(env.VICINAL_METRICS_PORT, undefined);
  assert.equal(env.OTEL_SERVICE_NAME, 'vicinal-student-trainer');
  assert.equal(
    env.OTEL_RESOURCE_ATTRIBUTES,
    'deployment.environment=dev,service.instance.id=w1',
  );
});

const promtool = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find(existsSync);
test('promtool accepts the config and its rules', {
  // CI installs Debian's prometheus: there a missing promtool is a failure.
  skip: !promtool && !process.env.CI && 'no promtool (apt-get install prometheus)',
}, () => {
  const run = spawnSync(promtool ?? 'promtool', ['check', 'config', file], {
    encoding: 'utf8',
  });
  assert.equal(run.status, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /SUCCESS: 6 rules found/);
});

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe as suite, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import {
  contextSources,
  dockerfileViolations,
  dockerIgnoreIncludes,
  finalUser,
  parseDockerfile,
  stagesOf,
} from './dockerfile.js';
import {
  containersOf,
  find,
  isVicinalImage,
  overlays,
  podSpec,
  renderOverlay,
  repoRoot,
} from './manifests.js';

// No Docker engine runs here, so the images are not built: these checks read
// the Dockerfiles instead: pinned bases, a non-root numeric user matching the
// manifests, production installs that still carry the runtime (tsx), build
// contexts that hold what the COPY lines need, and the GPU image's CUDA /
// cuDNN / libtensorflow / tfjs versions agreeing with each other.

const dockerDir = join(repoRoot, 'deploy', 'docker');
const read = (name: string) => readFileSync(join(dockerDir, name), 'utf8');
const images = {
  cpu: { dockerfile: 'Dockerfile', overlay: 'cpu' },
  gpu: { dockerfile: 'Dockerfile.gpu', overlay: 'gpu' },
} as const;
/** Files under a repository folder, as repository-relative paths (no node_modules). */
/**
 * The tracked files under a folder: what a clean checkout's build context holds
 * (local build products such as the native addon are the .dockerignore's job).
 */
function filesUnder(dir: string): string[] {
  const listed = spawnSync('git', ['ls-files', '-z', '--', dir], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  assert.equal(listed.status, 0, `git ls-files ${dir}: ${listed.stderr}`);
  return listed.stdout.split('\0').filter(Boolean);
}
const rootPackage = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies?: Record<string, string>;
};

for (const [kind, { dockerfile, overlay }] of Object.entries(images)) {
  suite(`${kind} image (${dockerfile})`, () => {
    const text = read(dockerfile);

    test('passes the image rules', () => {
      assert.deepEqual(dockerfileViolations(text), []);
    });

    test('runs as the user the manifests run as', () => {
      const uid = Number(finalUser(text)?.split(':')[0]);
      for (const o of renderOverlay(overlay)) {
        for (const c of containersOf(o).filter((x) => isVicinalImage(x.image))) {
          const podUser = podSpec(o).securityContext?.runAsUser;
          assert.equal(
            c.securityContext?.runAsUser ?? podUser,
            uid,
            `${o.metadata.name}`,
          );
        }
      }
    });

    test('installs production dependencies only, from the lockfile', () => {
      const runs = parseDockerfile(text).filter((i) => i.op === 'RUN');
      assert.ok(runs.some((r) => /\bnpm ci --omit=dev\b/.test(r.args)));
      assert.ok(!runs.some((r) => /\bnpm (i|install)\b(?!.*--omit=dev)/.test(r.args)));
    });

    test('copies only context paths that exist and that its .dockerignore lets through', () => {
      const ignore = read(`${dockerfile}.dockerignore`);
      for (const src of contextSources(text)) {
        assert.ok(existsSync(join(repoRoot, src)), `${src} exists`);
        // A folder reaches the build through its files (tests and node_modules excepted).
        const files = statSync(join(repoRoot, src)).isDirectory()
          ? filesUnder(src).filter(
              (f) => !f.endsWith('.test.ts') && !f.includes('node_modules/'),
            )
          : [src];
        assert.ok(files.length > 0, `${src} has files`);
        for (const f of files)
          assert.ok(dockerIgnoreIncludes(ignore, f), `${f} reaches the build`);
      }
      for (const needed of [
        'package-lock.json',
        'apps/teacher-server/src/main.ts',
        'apps/student-trainer/src/main.ts',
        'apps/cli/bin/vicinal.mjs',
        'libs/config/package.json',
        'protos/vicinal/teacher/v1/teacher.proto',
      ]) {
        assert.ok(existsSync(join(repoRoot, needed)), needed);
        assert.ok(dockerIgnoreIncludes(ignore, needed), `${needed} reaches the build`);
      }
      for (const kept of [
        'node_modules/tsx/package.json',
        'libs/bus/node_modules/x',
        '.git/HEAD',
        'libs/config/src/config.test.ts',
        'out/study/summary.json',
        '.vicinal/cache/teachers/x.model',
        'test/deploy/docker.test.ts',
      ]) {
        assert.ok(!dockerIgnoreIncludes(ignore, kept), `${kept} stays out of the build`);
      }
    });

    test('ships Fashion-MNIST where the study ConfigMap points', () => {
      assert.match(text, /dataset-fashion-mnist/);
      const study = parseYaml(
        find(renderOverlay(overlay), 'ConfigMap', 'study-config').data?.['study.yaml'] ??
          '',
      ) as { datasets: { dir: string }[] };
      assert.deepEqual(
        study.datasets.map((d) => d.dir),
        ['/usr/share/datasets/fashion-mnist'],
      );
      if (kind === 'gpu')
        assert.match(text, /COPY --from=dataset \/usr\/share\/datasets\/fashion-mnist/);
    });
  });
}

test('tsx is a runtime dependency: the containers run `node --import tsx` after --omit=dev', () => {
  assert.ok(
    rootPackage.dependencies.tsx,
    'tsx must be in dependencies, not devDependencies',
  );
  for (const overlay of overlays) {
    for (const o of renderOverlay(overlay)) {
      for (const c of containersOf(o).filter((x) => isVicinalImage(x.image))) {
        const cmd = c.command ?? [];
        if (cmd.includes('--import'))
          assert.equal(cmd[cmd.indexOf('--import') + 1], 'tsx');
      }
    }
  }
});

test('the GPU image pairs tfjs-node-gpu with its CUDA, cuDNN and libtensorflow', () => {
  const text = read('Dockerfile.gpu');
  const stages = stagesOf(parseDockerfile(text));
  const runtime = stages.at(-1);
  // libtensorflow 2.9.1 is built for CUDA 11.2 and cuDNN 8.1.
  assert.match(runtime?.from ?? '', /^nvidia\/cuda:11\.2\.\d+-cudnn8-runtime-/);
  assert.equal(stages.find((s) => s.name === 'build')?.from, runtime?.from);
  const tfjs = /ARG TFJS_NODE_GPU_VERSION=(\S+)/.exec(text)?.[1];
  assert.equal(
    tfjs,
    rootPackage.dependencies['@tensorflow/tfjs-core'],
    'one tfjs version',
  );
  const script = read('install-tfjs-node-gpu.sh');
  assert.match(script, /libtf_version=2\.9\.1/);
  const syntax = spawnSync('sh', ['-n', join(dockerDir, 'install-tfjs-node-gpu.sh')], {
    encoding: 'utf8',
  });
  assert.equal(syntax.status, 0, syntax.stderr);
  assert.ok(existsSync(join(dockerDir, 'libtensorflow', 'README.md')));
});

suite('the Dockerfile checks reject bad input', () => {
  test('an unpinned or latest base image', () => {
    assert.deepEqual(dockerfileViolations('FROM node\nUSER 1000\n'), [
      'FROM node: no tag (pin it by tag or digest)',
    ]);
    assert.match(
      dockerfileViolations(
        'ARG BASE=node:latest\nFROM $BASE AS b\nFROM b\nUSER 1000\n',
      )[0],
      /FROM node:latest: tag "latest"/,
    );
  });

  test('a final stage running as root or by name', () => {
    assert.deepEqual(dockerfileViolations('FROM node:20.20.2\n'), [
      'the final stage sets no USER (it would run as root)',
    ]);
    assert.match(
      dockerfileViolations('FROM node:20.20.2\nUSER 0\n')[0],
      /numeric non-zero/,
    );
    assert.match(
      dockerfileViolations('FROM node:20.20.2\nUSER node\n')[0],
      /numeric non-zero/,
    );
    // A USER in an earlier stage does not count for the final one.
    assert.equal(
      dockerfileViolations('FROM node:20.20.2 AS a\nUSER 1000\nFROM node:20.20.2\n')
        .length,
      1,
    );
  });

  test('a .dockerignore that would let node_modules or .git through', () => {
    assert.ok(dockerIgnoreIncludes('apps\n', 'node_modules/x'));
    assert.ok(
      !dockerIgnoreIncludes('**\n!apps/**\n**/node_modules\n', 'apps/a/node_modules/b'),
    );
    assert.ok(dockerIgnoreIncludes('**\n!apps/**\n', 'apps/a/b.ts'));
    assert.ok(!dockerIgnoreIncludes('**\n!apps/**\n', '.git/HEAD'));
  });
});

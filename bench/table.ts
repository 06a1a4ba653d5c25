import type { BenchReport } from './report.js';
import type { RatioSummary, Summary } from './stats.js';

/** Lays rows out in left-aligned columns. */
export function columns(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function num(v: number, digits = 3): string {
  if (Math.abs(v) >= 1000) return v.toFixed(0);
  return Number(v.toPrecision(digits)).toString();
}

/** "median (min-max)". */
export function spread(s: Summary): string {
  return `${num(s.median)} (${num(s.min)}-${num(s.max)})`;
}

/** "value [low-high]". */
export function ratioText(r: RatioSummary | null | undefined): string {
  return r ? `${num(r.value)} [${num(r.low)}-${num(r.high)}]` : '-';
}

/** The report as readable text: headline ratios against targets, then details. */
export function formatTable(report: BenchReport): string {
  const out: string[] = [];
  const m = report.machine;
  out.push(
    `vicinal bench (${report.settings.preset}, ${report.settings.reps} reps) on ` +
      `${m.cpus} x ${m.cpuModel}, node ${m.node}, backend ${report.backend.name ?? '-'}`,
    `pinning: ${m.pinning.reason}; load average ${m.loadAverageStart} -> ` +
      `${m.loadAverageEnd}; other processes ` +
      `${m.otherCpuShare === null ? 'not measured' : `${(100 * m.otherCpuShare).toFixed(1)} % of CPU time`}; ` +
      `${report.duration_seconds} s`,
    ...report.warnings.map((w) => `warning: ${w}`),
  );
  if (report.settings.preset === 'quick') {
    out.push(
      'note: --quick runs a few steps and rows to check that the bench works; its ' +
        'figures are not judged against the targets (run without --quick for those)',
    );
  }
  out.push('', 'Headline (median of reps; targets: README, Performance)');
  const ratioLegend =
    '  ratios: median / median [lowest-highest: min / max and max / min of the reps]';
  out.push(
    columns([
      ['figure', 'value', 'target', 'met'],
      ...Object.entries(report.targets).map(([name, t]) => [
        name,
        t.value === null ? 'n/a' : num(t.value),
        t.target,
        t.met === null ? '-' : t.met ? 'yes' : 'NO',
      ]),
    ]),
  );
  if (report.remote_vs_no_teacher_whole_run !== null) {
    out.push(
      "remote_vs_no_teacher is steady state (after each run's first step); over whole " +
        `runs, first step included: ${num(report.remote_vs_no_teacher_whole_run)}`,
    );
  }
  if (report.remote_pixels_vs_no_teacher !== null) {
    out.push(
      `remote_vs_no_teacher: the student sent ${report.student_throughput?.remote_sends === 'rows' ? 'row numbers of the training split the teacher server holds' : 'images (the server held no split)'}; ` +
        `sending the images instead: ${num(report.remote_pixels_vs_no_teacher)}`,
    );
  }
  if (report.remote_per_step_vs_no_teacher !== null) {
    out.push(
      `remote_vs_no_teacher: ${report.student_throughput?.steps_per_query} training steps per ` +
        `request; one step per request instead: ${num(report.remote_per_step_vs_no_teacher)}`,
    );
  }
  const st = report.student_throughput;
  if (st) {
    out.push(
      '',
      `1. Student training throughput, ${st.architecture} kd+mixup, batch ${st.batch}, ` +
        `${st.steps_per_rep} steps per rep (${st.epochs_per_rep} epochs, one run), ` +
        `${st.prefetch} queries of ${st.steps_per_query} steps in flight ` +
        '(samples/s, median (min-max); steady: after the first step)',
      columns([
        [
          'teacher',
          'steady samples/s',
          'whole run',
          'first step ms',
          'teacher latency p50/p99 ms',
          'waited per step ms',
        ],
        ...Object.entries(st.modes).map(([mode, r]) => [
          mode,
          spread(r.samples_per_second),
          num(r.whole_run_samples_per_second.median),
          num(r.first_step_ms.median),
          r.teacher_latency_ms
            ? `${num(r.teacher_latency_ms.p50)} / ${num(r.teacher_latency_ms.p99)}`
            : '-',
          r.teacher_wait_ms_per_step ? spread(r.teacher_wait_ms_per_step) : '-',
        ]),
      ]),
      ratioLegend,
      columns(Object.entries(st.ratios).map(([name, r]) => [`  ${name}`, ratioText(r)])),
    );
  }
  const ts = report.teacher_server;
  if (ts) {
    out.push(
      '',
      `2. Teacher server (${ts.architecture} ${ts.shape.join('x')}, ${ts.request_mode}, ` +
        `max batch ${ts.max_batch}, max delay ${ts.max_delay_ms} ms, inference on the ` +
        `${ts.inference_thread === 'worker' ? 'inference thread' : 'event loop'}, heap ` +
        `growing ${ts.heap_growing_percent ? `${ts.heap_growing_percent} %` : "V8's choice"}) ` +
        'vs raw predict',
      columns([
        [
          'batch',
          'clients',
          'samples/s',
          'p50 ms',
          'p99 ms',
          'served rows',
          'queue/infer ms',
          'vs raw',
        ],
        ...ts.raw.map((r) => [
          String(r.batch),
          'raw',
          spread(r.samples_per_second),
          num(r.latency_ms.p50),
          num(r.latency_ms.p99),
          String(r.batch),
          `-/${num(r.latency_ms.p50)}`,
          '1',
        ]),
        ...ts.server.map((r) => [
          String(r.batch),
          String(r.clients),
          spread(r.samples_per_second),
          num(r.latency_ms.p50),
          num(r.latency_ms.p99),
          String(r.served_batch_rows_median),
          `${num(r.server_queue_ms_median)}/${num(r.server_inference_ms_median)}`,
          ratioText(r.vs_raw),
        ]),
      ]),
    );
  }
  if (report.wire) {
    out.push(
      '',
      '3. Bytes on the wire per request (serialised protobuf)',
      columns([
        ['mode', 'batch', 'shape', 'bytes/sample', 'of float32', 'response bytes'],
        ...report.wire.modes.map((w) => [
          w.mode,
          String(w.batch),
          w.shape.join('x'),
          num(w.request_bytes_per_sample, 5),
          num(w.fraction_of_float32),
          String(w.response_bytes),
        ]),
      ]),
    );
  }
  const pt = report.pytorch;
  if (pt) {
    out.push(
      '',
      '4. vicinal vs PyTorch (ms per batch, median (min-max); ratio = vicinal/PyTorch)',
    );
    if (!pt.available) {
      out.push(`   skipped: ${pt.reason}`);
      if (report.vicinal_timing?.length) {
        out.push(
          columns([
            ['model', 'shape', 'train vicinal', 'infer vicinal'],
            ...report.vicinal_timing.map((t) => [
              t.architecture,
              t.shape.join('x'),
              spread(t.train_step_ms),
              spread(t.inference_ms),
            ]),
          ]),
        );
      }
    } else {
      out.push(
        `   PyTorch ${pt.torch_version}, ${pt.threads} threads`,
        columns([
          [
            'model',
            'shape',
            'train vicinal',
            'train torch',
            'ratio',
            'infer vicinal',
            'infer torch',
            'ratio',
          ],
          ...pt.comparisons.map((c) => [
            c.architecture,
            c.shape.join('x'),
            spread(c.train_step_ms.vicinal),
            spread(c.train_step_ms.pytorch),
            ratioText(c.train_step_ratio),
            spread(c.inference_ms.vicinal),
            spread(c.inference_ms.pytorch),
            ratioText(c.inference_ratio),
          ]),
        ]),
      );
      out.push(
        `   From each side's fastest repetition (least disturbed by other work): ` +
          pt.comparisons
            .map(
              (c) =>
                `${c.architecture} ${c.shape.join('x')} train ${num(c.fastest_ratio.train_step)}` +
                ` / infer ${num(c.fastest_ratio.inference)}`,
            )
            .join('; '),
      );
      const others = pt.comparisons.flatMap((c) =>
        c.other_threads.map((o) => [
          c.architecture,
          c.shape.join('x'),
          `${o.threads}`,
          spread(o.train_step_ms),
          ratioText(o.train_step_ratio),
          spread(o.inference_ms),
          ratioText(o.inference_ratio),
        ]),
      );
      if (others.length > 0) {
        out.push(
          '   Supplementary: PyTorch at other thread counts (vicinal/PyTorch)',
          columns([
            ['model', 'shape', 'threads', 'train torch', 'ratio', 'infer torch', 'ratio'],
            ...others,
          ]),
        );
      }
    }
  }
  const ms = report.many_students;
  if (ms) {
    out.push(
      '',
      `5. Many students on one teacher: ${ms.students} students, batch ${ms.batch}, ` +
        `${ms.requests_per_student} queries each per rep, queue limit ${ms.queue_limit} rows`,
      columns([
        ['samples/s', 'p50 ms', 'p99 ms', 'RESOURCE_EXHAUSTED retries', 'failovers'],
        [
          spread(ms.samples_per_second),
          num(ms.latency_ms.p50),
          num(ms.latency_ms.p99),
          String(ms.resource_exhausted_retries),
          String(ms.failovers),
        ],
      ]),
    );
  }
  const nw = report.native_vs_wasm;
  if (pt && report.backend.native)
    out.push(`   native kernels: ${report.backend.native}`);
  if (nw?.length) {
    out.push(
      '   Native kernels against wasm kernels alone (vicinal, same run; speed-up = wasm/native)',
      columns([
        [
          'model',
          'shape',
          'train native',
          'train wasm',
          'speed-up',
          'infer native',
          'infer wasm',
          'speed-up',
        ],
        ...nw.map((c) => [
          c.architecture,
          c.shape.join('x'),
          spread(c.train_step_ms.native),
          spread(c.train_step_ms.wasm),
          ratioText(c.train_step_speedup),
          spread(c.inference_ms.native),
          spread(c.inference_ms.wasm),
          ratioText(c.inference_speedup),
        ]),
      ]),
    );
  }
  return `${out.join('\n')}\n`;
}

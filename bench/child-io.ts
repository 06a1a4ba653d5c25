/**
 * The child side of the bench's process protocol: settings arrive as one
 * JSON argument, the result leaves as one JSON line on stdout, progress goes
 * to stderr. A child exits when its parent closes its stdin (the parent ended
 * or died), so no measurement outlives the bench.
 */

/** Parses the JSON settings the parent passed as the first argument. */
export function childSettings<T>(script: string): T {
  const raw = process.argv[2];
  if (raw === undefined) {
    throw new Error(`${script}: expected settings as a JSON argument, got none`);
  }
  try {
    return JSON.parse(raw) as T;
  } catch (err) {
    throw new Error(
      `${script}: settings are not valid JSON (${(err as Error).message}): ${raw}`,
    );
  }
}

/** Exits (code 143) once stdin ends, i.e. when the parent is gone. */
export function exitWithParent(): void {
  process.stdin.on('end', () => process.exit(143));
  process.stdin.on('error', () => process.exit(143));
  process.stdin.resume();
}

/** Writes one JSON line to stdout. */
export function sendMessage(message: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(`${JSON.stringify(message)}\n`, (err) =>
      err ? reject(err) : resolve(),
    );
  });
}

/** Progress for a human, on stderr. */
export function progress(text: string): void {
  process.stderr.write(`${text}\n`);
}

/**
 * Runs a child's main function: its result is the last stdout line, then
 * the process exits 0; a failure is printed on stderr and exits 1.
 */
export function runChild(script: string, main: () => Promise<unknown>): void {
  exitWithParent();
  main().then(
    async (result) => {
      await sendMessage({ result });
      process.exit(0);
    },
    (err: unknown) => {
      const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
      process.stderr.write(`${script} failed: ${text}\n`);
      process.exit(1);
    },
  );
}

/**
 * Serves requests from the parent: each stdin line is one JSON request, each
 * reply one JSON line on stdout, strictly in turn. Ends the process when the
 * parent closes stdin; a failing request ends it with code 1.
 */
export function serveRequests<Q, R>(
  script: string,
  handle: (request: Q) => Promise<R>,
): void {
  let queue = Promise.resolve();
  let buffered = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk: string) => {
    buffered += chunk;
    let newline = buffered.indexOf('\n');
    while (newline >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      newline = buffered.indexOf('\n');
      if (!line) continue;
      queue = queue
        .then(async () => sendMessage(await handle(JSON.parse(line) as Q)))
        .catch((err: unknown) => {
          const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
          process.stderr.write(`${script} failed: ${text}\n`);
          process.exit(1);
        });
    }
  });
  exitWithParent();
}

/**
 * Waits until `cond` holds, checking every `pollMs`; throws after `limitMs`
 * (a safety stop, not a timing check).
 */
export async function until(
  cond: () => boolean | Promise<boolean>,
  what: string,
  limitMs = 10_000,
  pollMs = 5,
): Promise<void> {
  const stop = Date.now() + limitMs;
  while (!(await cond())) {
    if (Date.now() > stop) throw new Error(`gave up waiting: ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/**
 * The first answer of `ask` within `tries` attempts 100 ms apart (a server
 * coming back at the same address), or null: tries bounded, not timed.
 */
export async function answerWithin<T>(
  ask: () => Promise<T>,
  tries = 50,
): Promise<T | null> {
  for (let attempt = 0; attempt < tries; attempt++) {
    const answer = await ask().catch(async () => {
      await new Promise((r) => setTimeout(r, 100));
      return null;
    });
    if (answer !== null) return answer;
  }
  return null;
}

/**
 * Captures everything written to stdout and stderr (where Powertools Logger and console write) while `run`
 * executes, still passing it through when LOG_PASSTHROUGH is set.
 */
export async function captureOutput<T>(run: () => Promise<T>): Promise<{ result: T; output: string }> {
  const capture = startCapture();
  try {
    const result = await run();
    return { result, output: capture.output() };
  } finally {
    capture.stop();
  }
}

export interface Capture {
  output(): string;
  stop(): void;
}

/** Starts capturing stdout/stderr for a whole suite (beforeAll) until stop() (afterAll). */
export function startCapture(): Capture {
  const chunks: string[] = [];
  const originalOut = process.stdout.write.bind(process.stdout);
  const originalErr = process.stderr.write.bind(process.stderr);
  const capture =
    (original: typeof process.stdout.write) =>
    (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      if (process.env['LOG_PASSTHROUGH']) return (original as (...args: unknown[]) => boolean)(chunk, ...rest);
      return true;
    };
  process.stdout.write = capture(originalOut) as typeof process.stdout.write;
  process.stderr.write = capture(originalErr) as typeof process.stderr.write;
  return {
    output: () => chunks.join(''),
    stop: () => {
      process.stdout.write = originalOut;
      process.stderr.write = originalErr;
    },
  };
}

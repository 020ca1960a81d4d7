/**
 * A server-sent event stream with a comment line (`: keep-alive`) whenever `intervalMs` pass without an event: a
 * 60-180 s generation sends nothing between its partial images, and a proxy in front (CloudFront's origin read
 * timeout is 30 s by default) would cut a silent stream. Clients skip comment lines (the SSE format; the openai
 * SDKs' decoders do). The pending event is never dropped: the timer only adds a line while waiting for it.
 */
export async function* withHeartbeat(events: AsyncIterable<string>, intervalMs: number): AsyncGenerator<string> {
  const iterator = events[Symbol.asyncIterator]();
  let pending = iterator.next();
  try {
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const beat = new Promise<'beat'>((resolve) => {
        timer = setTimeout(() => resolve('beat'), intervalMs);
      });
      const next = await Promise.race([pending, beat]);
      clearTimeout(timer);
      if (next === 'beat') {
        yield ': keep-alive\n\n';
        continue;
      }
      if (next.done) return;
      yield next.value;
      pending = iterator.next();
    }
  } finally {
    // The reader went away (a closed connection): the events stop at their next step instead of running on.
    void iterator.return?.();
  }
}

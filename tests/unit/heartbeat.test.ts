import { describe, expect, it } from '@jest/globals';
import { withHeartbeat } from '../../lib/http/heartbeat.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a streamed answer kept alive', () => {
  it('adds a comment line while an event takes longer than the interval, and passes every event through in order', async () => {
    async function* slow(): AsyncGenerator<string> {
      yield 'event: a\n\n';
      await sleep(130);
      yield 'event: b\n\n';
      yield 'event: c\n\n';
    }
    const seen: string[] = [];
    for await (const chunk of withHeartbeat(slow(), 50)) seen.push(chunk);
    expect(seen.filter((chunk) => !chunk.startsWith(':'))).toEqual(['event: a\n\n', 'event: b\n\n', 'event: c\n\n']);
    const beats = seen.filter((chunk) => chunk === ': keep-alive\n\n').length;
    expect(beats).toBeGreaterThanOrEqual(2);
    expect(seen.indexOf('event: b\n\n')).toBeGreaterThan(seen.indexOf(': keep-alive\n\n'));
  });

  it('adds nothing to a stream that never waits, and ends when it ends', async () => {
    async function* quick(): AsyncGenerator<string> {
      yield 'x';
      yield 'y';
    }
    const seen: string[] = [];
    for await (const chunk of withHeartbeat(quick(), 1_000)) seen.push(chunk);
    expect(seen).toEqual(['x', 'y']);
  });
});

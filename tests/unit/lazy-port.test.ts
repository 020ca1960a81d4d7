import { describe, expect, it } from '@jest/globals';
import { lazyPort } from '../../lib/lazy.js';

interface Greeter {
  greet(name: string): Promise<string>;
  count(): Promise<number>;
}

describe('lazyPort', () => {
  it('loads the adapter on the first call only, shares it between methods, and tries a failed load again', async () => {
    // Prepare: an adapter whose first load fails.
    let loads = 0;
    const port = lazyPort<Greeter>(async () => {
      loads += 1;
      if (loads === 1) throw new Error('module not reachable');
      let calls = 0;
      return {
        greet: async (name) => {
          calls += 1;
          return `hello ${name}`;
        },
        count: async () => calls,
      };
    }, ['greet', 'count']);
    // Assess: nothing loaded by building it.
    expect(loads).toBe(0);
    // Act, Assess
    await expect(port.greet('a')).rejects.toThrow('module not reachable');
    await expect(port.greet('b')).resolves.toBe('hello b');
    await expect(port.count()).resolves.toBe(1);
    expect(loads).toBe(2);
  });
});

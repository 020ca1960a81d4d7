import { once } from 'node:events';
import { createServer, request, type ClientRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from '@jest/globals';
import { lazyPort, whileTheNextCallIsOut } from '../../lib/lazy.js';

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

describe('whileTheNextCallIsOut', () => {
  const turns = async (count: number): Promise<void> => {
    for (let turn = 0; turn < count; turn += 1) await new Promise((resolve) => setImmediate(resolve));
  };

  it('runs the work once, after the first request made since the trigger has written its body', async () => {
    // Prepare: a server that answers once it has the whole body; each request on a new connection, as a cold start's.
    const server = createServer((incoming, response) => incoming.resume().on('end', () => response.end('ok')));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const send = (): { outgoing: ClientRequest; answered: Promise<void> } => {
      const outgoing = request({ host: '127.0.0.1', port, method: 'POST', agent: false });
      outgoing.end(Buffer.alloc(256 * 1024));
      const answered = once(outgoing, 'response').then(async ([response]) => {
        (response as IncomingMessage).resume();
        await once(response as IncomingMessage, 'end');
      });
      return { outgoing, answered };
    };
    let outgoing: ClientRequest | undefined;
    const runs: { connecting: boolean | undefined; bodyWritten: boolean | undefined }[] = [];
    const trigger = whileTheNextCallIsOut(() =>
      runs.push({ connecting: outgoing?.socket?.connecting, bodyWritten: outgoing?.writableFinished }),
    );
    try {
      // Act: a request before the trigger, then the trigger, pulled twice, and a request made where an SDK call is
      // made: in an I/O callback (here the answer to the previous request), so its new connection completes only in
      // the event loop's next poll.
      await send().answered;
      trigger();
      trigger();
      const next = send();
      outgoing = next.outgoing;
      await next.answered;
      // Assess: the work ran once, with the connection open and the 256 KiB body handed to it.
      expect(runs).toEqual([{ connecting: false, bodyWritten: true }]);
      // Act: more requests, the trigger again.
      trigger();
      await send().answered;
      await turns(3);
      // Assess: still once.
      expect(runs).toHaveLength(1);
    } finally {
      server.close();
    }
  });
});

import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Context } from 'aws-lambda';
import type { JobDispatcher } from '../../lib/ports.js';
import { lambdaContext } from './lambda.js';

type Worker = (event: { id: string }, context: Context) => Promise<unknown>;

/**
 * Stands in for Lambda's asynchronous invocation in handler-level tests: `dispatch` returns at once and the
 * worker handler runs on its own, as in AWS (the e2e suite uses the real path through serverless-offline).
 */
export class BackgroundDispatcher implements JobDispatcher {
  readonly background = true;
  worker: Worker | undefined;
  /** Ids dispatched, in order. */
  readonly dispatched: string[] = [];
  /** When false, events are recorded but no worker runs (a job stays queued). */
  deliver = true;
  /** The worker's time budget, like the function's timeout. */
  workerTimeoutMs = 60_000;
  private readonly running = new Set<Promise<unknown>>();

  async dispatch(id: string): Promise<undefined> {
    this.dispatched.push(id);
    if (this.deliver) this.run(id);
    return undefined;
  }

  /** Delivers the event (again), as a Lambda retry or a duplicate delivery would. */
  run(id: string): Promise<unknown> {
    if (!this.worker) throw new Error('BackgroundDispatcher.worker is not set');
    const worker = this.worker;
    const run = new Promise((resolve) => setImmediate(resolve)).then(() => worker({ id }, lambdaContext(this.workerTimeoutMs)));
    const tracked = run.catch(() => undefined).finally(() => this.running.delete(tracked));
    this.running.add(tracked);
    return run;
  }

  /** Waits for every worker run started so far. */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }
}

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver on loopback that records what it gets and answers from a script (default 204). */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  /** Statuses to answer with, in order; then 204. */
  readonly statuses: number[] = [];
  private waiters: (() => void)[] = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<WebhookReceiver> {
    let instance: WebhookReceiver | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        instance?.received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(instance?.statuses.shift() ?? 204).end();
        for (const wake of instance?.waiters.splice(0) ?? []) wake();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    instance = new WebhookReceiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/images`);
    return instance;
  }

  /** Resolves once `count` deliveries have arrived (or rejects after `timeoutMs`). */
  async waitFor(count: number, timeoutMs = 10_000): Promise<ReceivedWebhook[]> {
    const until = Date.now() + timeoutMs;
    while (this.received.length < count) {
      if (Date.now() > until) throw new Error(`expected ${count} webhook deliveries, got ${this.received.length}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
    return this.received;
  }

  reset(): void {
    this.received.length = 0;
    this.statuses.length = 0;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

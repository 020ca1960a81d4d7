import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface StandInReply {
  status: number;
  body: string;
  /** `application/x-amz-json-1.1` (SSM) by default. */
  contentType?: string;
  /** Answer this much later (a slow service). */
  delayMs?: number;
  /** Reset the connection instead of answering (a stale keep-alive socket, a dropped connection). */
  reset?: boolean;
}

/**
 * An AWS API stand-in on loopback for the single signed calls (DynamoDB, SSM, Lambda, CloudFront): records every
 * request (method, path, headers, body, so a test can verify the signature) and answers the queued replies in
 * order, then the fallback.
 */
export class AwsStandIn {
  readonly received: RecordedRequest[] = [];
  private queue: StandInReply[] = [];

  private constructor(
    private readonly server: Server,
    readonly endpoint: string,
    public fallback: StandInReply,
  ) {}

  static async start(fallback: StandInReply = { status: 200, body: '{}' }): Promise<AwsStandIn> {
    let instance: AwsStandIn | undefined;
    const server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        if (!instance) return;
        instance.received.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
        const reply = instance.queue.shift() ?? instance.fallback;
        if (reply.reset) {
          req.socket.destroy();
          return;
        }
        const answer = () =>
          res.writeHead(reply.status, { 'content-type': reply.contentType ?? 'application/x-amz-json-1.1' }).end(reply.body);
        if (reply.delayMs) setTimeout(answer, reply.delayMs);
        else answer();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    instance = new AwsStandIn(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`, fallback);
    return instance;
  }

  /** Replies used in order, one per request; after them the fallback answers. */
  enqueue(...replies: StandInReply[]): void {
    this.queue.push(...replies);
  }

  /** Forgets what was received and queued. */
  reset(): void {
    this.received.length = 0;
    this.queue = [];
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** `http://127.0.0.1:<port>` of a loopback port nothing listens on (a refused connection). */
export async function closedEndpoint(): Promise<string> {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', () => resolve()));
  const { port } = closed.address() as AddressInfo;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

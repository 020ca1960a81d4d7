import { createServer, request, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** What the proxy does to matching requests instead of forwarding them. */
export type S3Fault =
  | { kind: 'error'; status: number; code: string }
  /** Accepts the request and never answers: the client's timeout must fire. */
  | { kind: 'hang' }
  | { kind: 'reset' };

/**
 * An HTTP proxy in front of the S3 server that injects faults into matching requests (by default every PUT) and
 * forwards everything else untouched, so the real SDK and the real server see real S3 error documents.
 */
export class S3FaultProxy {
  fault: S3Fault | undefined;
  /** Which requests the fault applies to. */
  matches: (method: string, path: string) => boolean = (method) => method === 'PUT';
  faultsInjected = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly endpoint: string,
  ) {}

  static async start(target: string): Promise<S3FaultProxy> {
    const upstream = new URL(target);
    let proxy: S3FaultProxy | undefined;
    const server = createServer((req, res) => {
      const self = proxy as S3FaultProxy;
      const fault = self.fault;
      if (fault && self.matches(req.method ?? '', req.url ?? '')) {
        self.faultsInjected += 1;
        req.resume();
        if (fault.kind === 'hang') return;
        if (fault.kind === 'reset') {
          req.socket.destroy();
          return;
        }
        res
          .writeHead(fault.status, { 'content-type': 'application/xml' })
          .end(
            `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${fault.code}</Code><Message>injected</Message><RequestId>fault</RequestId></Error>`,
          );
        return;
      }
      const forward = request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
        (upstreamRes) => {
          res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
          upstreamRes.pipe(res);
        },
      );
      forward.on('error', () => res.destroy());
      req.pipe(forward);
    });
    server.on('connection', (socket) => {
      proxy?.sockets.add(socket);
      socket.on('close', () => proxy?.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    proxy = new S3FaultProxy(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return proxy;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

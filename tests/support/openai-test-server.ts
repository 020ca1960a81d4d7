import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gzipSync } from 'node:zlib';

/** One scripted answer of the test server. */
export type Reply =
  | { kind: 'json'; status?: number; body: unknown; headers?: Record<string, string>; delayMs?: number; gzip?: boolean }
  /** A body of `bytes` bytes (a JSON string that never ends), streamed in 64 KiB chunks; see `bytesSent`. */
  | { kind: 'huge'; status?: number; bytes: number }
  | { kind: 'raw'; status?: number; body: string; contentType?: string; headers?: Record<string, string> }
  /** Accepts the request and never answers (until the server closes). */
  | { kind: 'hang' }
  /** Destroys the connection without an answer (a reset). */
  | { kind: 'reset' }
  /** Announces `body` whole (status 200, its Content-Length), sends the first half of it, then resets. */
  | { kind: 'cut'; body: unknown }
  /**
   * A streamed image answer (`stream: true`): server-sent events as OpenAI's Images API sends them, `gapMs` apart.
   * `cutAfter`: the connection is reset after that many events (a stream broken midway).
   */
  | { kind: 'stream'; events: StreamEvent[]; gapMs?: number; cutAfter?: number; extra?: Record<string, unknown> };

/** One event of a streamed image answer. */
export type StreamEvent =
  | { type: 'partial'; index: number; b64: string }
  | { type: 'completed'; b64: string; usage?: unknown }
  | { type: 'error'; code: string; message?: string };

/**
 * A stream of `partials` (base64 each) and then the final image, with the usage OpenAI reports for it: the completed
 * event's usage counts the partial images' 100 output tokens each (observed: gpt-image-1 1024x1024 low was 272
 * output tokens unstreamed and 372 streamed with one partial image, maximhq/bifrost#4777). `extra` is merged into
 * every event (Azure adds its content filter results: `prompt_filter_results`, `content_filter_results`, as the
 * Azure OpenAI spec's differences from OpenAI's list for image generation answers).
 */
export const streamReply = (
  finalB64: string,
  partials: string[],
  options: { gapMs?: number; cutAfter?: number; extra?: Record<string, unknown> } = {},
): Reply => ({
  kind: 'stream',
  events: [
    ...partials.map((b64, index): StreamEvent => ({ type: 'partial', index, b64 })),
    { type: 'completed', b64: finalB64, usage: { ...IMAGE_USAGE, output_tokens: IMAGE_USAGE.output_tokens + 100 * partials.length } },
  ],
  ...options,
});

/** A form's entries by name (a repeated name as a list): strings, and files as their name, type and bytes. */
export interface FormFile {
  name: string;
  type: string;
  bytes: Buffer;
}

async function multipartFields(body: Buffer, contentType: string): Promise<Record<string, unknown>> {
  const form = await new Response(body, { headers: { 'content-type': contentType } }).formData();
  const fields: Record<string, unknown> = {};
  for (const [name, value] of form.entries()) {
    const entry: string | FormFile =
      typeof value === 'string' ? value : { name: value.name, type: value.type, bytes: Buffer.from(await value.arrayBuffer()) };
    const seen = fields[name];
    fields[name] = seen === undefined ? entry : [...(Array.isArray(seen) ? seen : [seen]), entry];
  }
  return fields;
}

/**
 * The SSE frame of one event, in the shape the SDK's `images.generate({ stream: true })` parses; an edit's events
 * are named `image_edit.*` (https://platform.openai.com/docs/api-reference/images-streaming).
 */
function sseFrame(event: StreamEvent, extra: Record<string, unknown> = {}, kind = 'image_generation'): string {
  const common = {
    ...extra,
    created_at: 1_764_000_000,
    size: '1024x1024',
    quality: 'low',
    background: 'opaque',
    output_format: 'png',
  };
  if (event.type === 'partial') {
    const data = { type: `${kind}.partial_image`, b64_json: event.b64, partial_image_index: event.index, ...common };
    return `event: ${kind}.partial_image\ndata: ${JSON.stringify(data)}\n\n`;
  }
  if (event.type === 'completed') {
    const data = { type: `${kind}.completed`, b64_json: event.b64, usage: event.usage, ...common };
    return `event: ${kind}.completed\ndata: ${JSON.stringify(data)}\n\n`;
  }
  const data = { type: 'error', error: { type: 'invalid_request_error', code: event.code, message: event.message ?? 'no', param: null } };
  return `event: error\ndata: ${JSON.stringify(data)}\n\n`;
}

export interface RecordedCall {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

/**
 * What OpenAI reports for a low-quality 1024x1024 gpt-image-2 image (196 output tokens, OpenAI's image guide) with
 * 50 text tokens in: $0.00613 at $5 and $30 per million (SETTLED_COST in tests/support/pricing.ts).
 */
const IMAGE_USAGE = Object.freeze({
  input_tokens: 50,
  input_tokens_details: { text_tokens: 50, image_tokens: 0 },
  output_tokens: 196,
  total_tokens: 246,
});

export const imageReply = (b64: string, extra: Record<string, unknown> = {}): Reply => ({
  kind: 'json',
  body: {
    created: 1_764_000_000,
    data: [{ b64_json: b64, ...extra }],
    usage: IMAGE_USAGE,
  },
});

/**
 * OpenAI's images answer also says what it made: `background`, `output_format`, `quality` and `size` beside `data`
 * and `usage` (ImagesResponse in openai 7.57.0, node_modules/openai/resources/images.d.ts; the Images API
 * reference, https://platform.openai.com/docs/api-reference/images/object). The stand-in echoes the request, with
 * `auto` as it might resolve (the model chooses: `medium`, an opaque background, the square size), unless the
 * reply already says.
 */
function withSettings(reply: Reply, request: Record<string, unknown>): Reply {
  if (
    reply.kind !== 'json' ||
    typeof reply.body !== 'object' ||
    reply.body === null ||
    !('data' in reply.body) ||
    'quality' in reply.body
  ) {
    return reply;
  }
  const asked = (name: string, auto: string): string => {
    const value = request[name];
    return typeof value === 'string' && value !== 'auto' ? value : auto;
  };
  const settings = {
    background: asked('background', 'opaque'),
    output_format: asked('output_format', 'png'),
    quality: asked('quality', 'medium'),
    size: asked('size', '1024x1024'),
  };
  return { ...reply, body: { ...reply.body, ...settings } };
}

export const errorReply = (
  status: number,
  error: { code?: string | null; message?: string; type?: string },
  headers: Record<string, string> = {},
): Reply => ({
  kind: 'json',
  status,
  headers,
  body: { error: { message: 'provider says no', type: 'invalid_request_error', param: null, code: null, ...error } },
});

/** An answer of `POST /v1/moderations`, in the API's shape. */
export const moderationReply = (flagged: boolean, categories: string[] = []): Reply => ({
  kind: 'json',
  body: {
    id: 'modr-test',
    model: 'omni-moderation-latest',
    results: [
      {
        flagged,
        categories: Object.fromEntries(['violence', 'sexual', 'harassment', 'self-harm'].map((c) => [c, categories.includes(c)])),
        category_scores: {},
      },
    ],
  },
});

/** Which wire protocol a server speaks: where its image requests arrive (the replies are the test's to shape). */
export type Protocol = 'openai' | 'bedrock' | 'gemini';

const IMAGE_PATHS: Readonly<Record<Protocol, RegExp>> = {
  // OpenAI, and Azure OpenAI's v1 API (<endpoint>/openai/v1), which answers in OpenAI's shapes.
  openai: /^\/(openai\/)?v1\/images\/(generations|edits)$/,
  // Bedrock Runtime InvokeModel (restJson1): the model id is a path segment, ':' percent-encoded.
  bedrock: /^\/model\/[^/]+\/invoke$/,
  // Gemini API generateContent (v1, as @google/genai 3 calls it, or v1beta).
  gemini: /^\/v1(beta)?\/models\/[^/:]+:generateContent$/,
};

/**
 * A provider stand-in on loopback that speaks one provider's wire protocol: the real clients (the service's OpenAI
 * API client, the Bedrock and Gemini SDKs) send to it with their real HTTP, headers and JSON, and it answers with
 * queued replies (images, errors, hangs, resets, answers cut short, huge bodies).
 */
export class OpenAITestServer {
  /** Image generation requests. */
  readonly calls: RecordedCall[] = [];
  /** Moderation requests. */
  readonly moderationCalls: RecordedCall[] = [];
  /** Answer to moderation requests. */
  moderation: Reply = moderationReply(false);
  /** Bytes of the last `huge` reply that were written before the client stopped reading (or all of them). */
  bytesSent = 0;
  /** When (epoch ms) each partial image event of the streams so far was written. */
  readonly partialsSentAt: number[] = [];
  private readonly queue: Reply[] = [];
  private fallback: Reply;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly baseUrl: string,
    fallback: Reply,
    private readonly protocol: Protocol,
  ) {
    this.fallback = fallback;
  }

  /** The origin (scheme, host, port): the base URL of Bedrock's and Gemini's endpoints. */
  get origin(): string {
    return new URL(this.baseUrl).origin;
  }

  static async start(fallback: Reply, protocol: Protocol = 'openai'): Promise<OpenAITestServer> {
    let instance: OpenAITestServer | undefined;
    const server = createServer((req, res) => {
      void instance?.handle(req, res);
    });
    server.on('connection', (socket) => {
      instance?.sockets.add(socket);
      socket.on('close', () => instance?.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    instance = new OpenAITestServer(server, `http://127.0.0.1:${port}${protocol === 'openai' ? '/v1' : ''}`, fallback, protocol);
    return instance;
  }

  /** Replies used in order, one per request; after them the fallback answers. */
  enqueue(...replies: Reply[]): void {
    this.queue.push(...replies);
  }

  setFallback(reply: Reply): void {
    this.fallback = reply;
  }

  reset(fallback?: Reply): void {
    this.calls.length = 0;
    this.moderationCalls.length = 0;
    this.moderation = moderationReply(false);
    this.queue.length = 0;
    if (fallback) this.fallback = fallback;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let body: Record<string, unknown> = {};
    const contentType = req.headers['content-type'] ?? '';
    if (contentType.startsWith('multipart/form-data')) {
      // An edit (images.edit): the form's fields as strings, its files as { name, type, bytes }.
      body = await multipartFields(Buffer.concat(chunks), contentType);
    } else {
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        body = { unparsable: text.length };
      }
    }
    const call = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body };
    let reply: Reply;
    if (this.protocol === 'openai' && req.method === 'POST' && req.url === '/v1/moderations') {
      this.moderationCalls.push(call);
      reply = this.moderation;
    } else if (req.method === 'POST' && IMAGE_PATHS[this.protocol].test(req.url ?? '')) {
      this.calls.push(call);
      reply = this.queue.shift() ?? this.fallback;
      if (this.protocol === 'openai') reply = withSettings(reply, body);
    } else {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"not found"}}');
      return;
    }
    switch (reply.kind) {
      case 'hang':
        return;
      case 'reset':
        req.socket.destroy();
        return;
      case 'cut': {
        const whole = Buffer.from(JSON.stringify(reply.body));
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(whole.length) });
        res.write(whole.subarray(0, whole.length >> 1), () => setTimeout(() => req.socket.destroy(), 20));
        return;
      }
      case 'stream': {
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache',
          'x-request-id': 'req_stream',
        });
        for (const [count, event] of reply.events.entries()) {
          if (reply.cutAfter !== undefined && count >= reply.cutAfter) {
            req.socket.destroy();
            return;
          }
          if (reply.gapMs && count > 0) await new Promise((resolve) => setTimeout(resolve, reply.gapMs));
          if (res.destroyed) return;
          const kind = req.url?.includes('/images/edits') ? 'image_edit' : 'image_generation';
          await new Promise((resolve) => res.write(sseFrame(event, reply.extra, kind), resolve));
          if (event.type === 'partial') this.partialsSentAt.push(Date.now());
        }
        res.end();
        return;
      }
      case 'raw':
        res.writeHead(reply.status ?? 200, { 'content-type': reply.contentType ?? 'application/json', ...reply.headers }).end(reply.body);
        return;
      case 'huge': {
        this.bytesSent = 0;
        res.writeHead(reply.status ?? 200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(64 * 1024, 0x61);
        res.write('{"error":{"message":"');
        while (this.bytesSent < reply.bytes && !res.destroyed) {
          // Waits for the client to take each chunk, so what was sent is what the client chose to read.
          const drained = res.write(chunk);
          this.bytesSent += chunk.length;
          if (!drained)
            await new Promise((resolve) => {
              res.once('drain', resolve);
              res.once('close', resolve);
            });
        }
        res.end('"}}');
        return;
      }
      case 'json': {
        if (reply.delayMs) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
        const text = JSON.stringify(reply.body);
        const body = reply.gzip ? gzipSync(text) : Buffer.from(text);
        res
          .writeHead(reply.status ?? 200, {
            'content-type': 'application/json',
            'content-length': String(body.length),
            ...(reply.gzip ? { 'content-encoding': 'gzip' } : {}),
            ...reply.headers,
          })
          .end(body);
      }
    }
  }
}

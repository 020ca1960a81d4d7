import { Readable } from 'node:stream';
import middy from '@middy/core';
import { executionModeStreamifyResponse } from '@middy/core/StreamifyResponse';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import httpJsonBodyParser from '@middy/http-json-body-parser';
import httpRouterHandler, { type Route } from '@middy/http-router';
import httpSecurityHeaders from '@middy/http-security-headers';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { requestDeadline } from '../domain/deadline.js';
import { parsePrefer, toResource, waitPlan, type ImageJob, type ImageResource } from '../domain/image-job.js';
import { familyOf } from '../domain/models.js';
import { rateLimitHeaders } from '../domain/rate-limit.js';
import { microUsdToUsd } from '../domain/pricing.js';
import { AppError } from '../errors.js';
import { lazily, lazyPort } from '../lazy.js';
import { accessLog } from '../middleware/access-log.js';
import { authenticate } from '../middleware/authenticate.js';
import { bodyLimit, requireJsonBody } from '../middleware/body-limit.js';
import { errorResponse, requestIdFrom, requestIdOf } from '../middleware/error-response.js';
import { hardenPromptMiddleware } from '../middleware/harden-prompt.js';
import type { HttpMiddleware, HttpRequest, RequestContext } from '../middleware/types.js';
import { validateImageRequestBody } from '../middleware/validate-image-request.js';
import { openAIEditRequestBody, openAIImageRequestBody } from './openai-image-request.js';
import {
  openAIErrorDialect,
  openAIImageAnswer,
  openAIModelList,
  openAIStreamError,
  openAIStreamEvent,
  type AnsweredImage,
  type StreamKind,
} from './openai-compat.js';
import { withHeartbeat } from './heartbeat.js';
import { pageSurface } from './page/routes.js';
import type { QuotaStatus } from '../ports.js';
import { createUseCases, type Dependencies, type UseCases } from '../composition-root.js';
import { notFinishedInTime } from '../use-cases/job-reads.js';
import type { CreateImageInput } from '../use-cases/create-image.js';

type Event = APIGatewayProxyEventV2;
type Result = APIGatewayProxyStructuredResultV2;
type RouteHandler = (event: Event, context: RequestContext) => Promise<Result>;
/** A `/v1` request as the create use case takes it, before how long to wait for it is chosen. */
type V1Order = Omit<CreateImageInput, 'waitUntil'>;

/** Time kept back from the wait to build and send the answer before the gateway's limit. */
const ANSWER_MARGIN_MS = 500;
/** Suggested polling interval after a 202. */
const RETRY_AFTER_SECONDS = 5;

/**
 * `/v1`: time kept back from the function's own end (not the gateway's: served by a function URL, it has none), and
 * the largest image an answer carries as `b64_json` (Lambda answers at most 6 MB; base64 is 4/3 of the bytes).
 */
const V1_END_MARGIN_MS = 2_000;
const V1_READ_BACK_MS = 3_000;
const V1_MAX_B64_IMAGE_BYTES = 4 * 1024 * 1024;
/**
 * The image bytes one streamed answer carries, partial images and the image together. Lambda streams up to 200 MB;
 * the bound is the function's 256 MB: each event holds an image's bytes and their base64 (4/3) at once, one event
 * at a time.
 */
const V1_MAX_STREAMED_IMAGE_BYTES = 14 * 1024 * 1024;
/** A streamed answer's keep-alive comment while nothing else is sent (heartbeat.ts): under a proxy's 30 s idle limit. */
const V1_STREAM_HEARTBEAT_MS = 15_000;
/**
 * `/v1/images/edits`' form: a synchronous Lambda request carries at most 6 MB, and a function URL passes a form
 * base64-encoded (4/3 of its bytes), so about 4.4 MB of form reach the function; 4 MiB is refused in OpenAI's shape
 * past it (a larger one is refused by Lambda itself, 413). Larger input images go through `POST /uploads`.
 */
const V1_MAX_EDIT_BODY_BYTES = 4 * 1024 * 1024;
/**
 * The form parser's bounds. busboy drops what passes `files` or `fields` without an error, so they are set above what
 * is refused later by name (OpenAI's 16 images and a mask; the request's own fields), the body's size being the
 * bound that holds memory; a field is cut at `fieldSize`, above the longest prompt any model takes.
 */
const EDIT_FORM_LIMITS = { files: 17, fields: 100, fieldSize: 256 * 1024, fileSize: V1_MAX_EDIT_BODY_BYTES };

/**
 * The edit form's parser (middy's, with busboy: 28 KB), loaded by the first `/v1/images/edits` instead of at every
 * cold start: no other route reads a form. It has a `before` step only.
 */
const editFormParser = (): HttpMiddleware =>
  lazyPort<HttpMiddleware>(
    async () => (await import('@middy/http-multipart-body-parser')).default({ busboy: { limits: EDIT_FORM_LIMITS } }) as HttpMiddleware,
    ['before'],
  );

/**
 * Which routes a function serves: `all` (the HTTP API's function, and the local stage's), or `v1` (the function URL
 * of OpenAI's dialect: a URL with no gateway in front must not open the rest of the API past the gateway's
 * throttling, access log and CORS).
 */
export type Surface = 'all' | 'v1';

/** A route's path as the router writes it (`/images/{id}`), as a pattern that also takes a trailing slash. */
const patternOf = (path: string): RegExp => {
  const escaped = path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+');
  return new RegExp(`^${escaped}${path === '/' ? '' : '\\/?'}$`);
};

/** `405 Allow` for a path that exists under other methods, from the one route table (its patterns built once). */
function allowedMethodsOf(routes: readonly { method: string; path: string }[]): (path: string) => string[] {
  const patterns = routes.map((route) => ({ method: route.method, pattern: patternOf(route.path) }));
  return (path) => [...new Set(patterns.filter(({ pattern }) => pattern.test(path)).map(({ method }) => method))].sort();
}

/**
 * The contract (openapi.yaml, bundled as JSON), loaded and serialised on its first request: as a lazily loaded
 * module its object literal is not compiled by every cold start (docs/performance.md).
 */
const openApiDocumentText = lazily(() =>
  import('./openapi.json', { with: { type: 'json' } }).then((module) => JSON.stringify(module.default)),
);

/** The Idempotency-Key header (IETF draft: 1-255 printable ASCII characters), or undefined when absent. */
function idempotencyKeyOf(headers: Record<string, string | undefined>): string | undefined {
  const key = headers['idempotency-key'];
  if (key === undefined) return undefined;
  if (!/^[\x21-\x7e]{1,255}$/.test(key)) {
    throw new AppError('invalid_request', 'The Idempotency-Key header must be 1-255 printable ASCII characters.', {
      details: { field: 'Idempotency-Key' },
    });
  }
  return key;
}

const json = (statusCode: number, body: unknown, headers: Record<string, string> = {}): Result => ({
  statusCode,
  headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
  body: JSON.stringify(body),
});

const quotaHeaders = (quota: QuotaStatus | undefined, now: number): Record<string, string> =>
  quota ? rateLimitHeaders(quota.limit, quota.remaining, (quota.resetAt - now) / 1000) : {};

const noResources = (): AppError =>
  new AppError('not_found', 'This deployment keeps no image resources (no STATE_TABLE): only POST /images is served.');

/**
 * The one HTTP entry: `POST /images`, `GET /images`, `GET /images/{id}`, `DELETE /images/{id}` (plus the public
 * `GET /openapi.json` and the Generate page) through @middy/http-router, each route its own middy chain behind
 * the shared one. Order is the security model: who is
 * asking (401) before anything else about the request; for POST then how big (413), is it JSON (415/400), is it
 * valid (400), harden the prompt; only then the use case, the only step that can spend money.
 */
export function createApiHandler(
  deps: Dependencies,
  useCases: UseCases = createUseCases(deps),
  surface: Surface = 'all',
  { streamResponses = false }: { streamResponses?: boolean } = {},
) {
  const { config, logger } = deps;
  const { images } = useCases;

  const auth = authenticate({
    apiKeys: config.apiKeys,
    tokens: deps.tokens,
    issuedKeys: useCases.keys.authenticate,
    onAuthenticated: (principal) => logger.appendKeys({ principal: principal.id, principalKind: principal.kind }),
  });

  const principalOf = (context: RequestContext) => {
    if (context.principal === undefined) throw new Error('middleware chain is incomplete');
    return context.principal;
  };

  const postImages: RouteHandler = async (event, context) => {
    const { imageRequest, providerPrompt } = context;
    const principal = principalOf(context);
    if (imageRequest === undefined || providerPrompt === undefined) throw new Error('middleware chain is incomplete');
    const now = deps.now();
    const headers = event.headers ?? {};
    const deadline = requestDeadline({
      now,
      lambdaRemainingMs: context.getRemainingTimeInMillis?.() ?? config.limits.gatewayTimeoutMs,
      gatewayReceivedAt: event.requestContext?.timeEpoch,
      gatewayTimeoutMs: config.limits.gatewayTimeoutMs,
    });
    const requestId = requestIdFrom(event, context);
    const idempotencyKey = idempotencyKeyOf(headers);

    if (!images.resources && imageRequest.webhook !== undefined) {
      throw new AppError('invalid_request', '"webhook" needs image resources, which this deployment does not keep (no STATE_TABLE).', {
        details: { field: 'webhook' },
      });
    }
    if (!images.resources && imageRequest.previews) {
      // Nobody could see them while it runs (no GET): refused before they are paid for.
      throw new AppError('invalid_request', '"previews" needs image resources, which this deployment does not keep (no STATE_TABLE).', {
        details: { field: 'previews' },
      });
    }

    const plan = waitPlan(parsePrefer(headers['prefer']), config.jobs?.defaultWaitMs ?? 0, deadline - ANSWER_MARGIN_MS - now);
    const { job, quota, replayed } = await images.create({
      requestId,
      principal,
      idempotencyKey,
      ...imageRequest,
      providerPrompt,
      deadline,
      waitUntil: now + plan.waitMs,
    });
    const answeredAt = deps.now();
    const resource = toResource(job, answeredAt);
    const common = {
      ...(replayed ? { 'idempotent-replayed': 'true' } : {}),
      // An inline job ran to its end whatever was asked: no preference was applied then.
      ...(plan.applied !== undefined && images.dispatcher.background ? { 'preference-applied': plan.applied } : {}),
      ...quotaHeaders(quota, now),
    };
    if (resource?.status === 'succeeded' && resource.url !== undefined) {
      return json(201, resource, { location: resource.url, ...common });
    }
    return json(
      202,
      { id: job.id, status: resource?.status ?? job.status, model: job.model, createdAt: new Date(job.createdAt).toISOString() },
      { location: `/images/${job.id}`, 'retry-after': String(RETRY_AFTER_SECONDS), ...common },
    );
  };

  /**
   * OpenAI's `images.generate`: the same use case as `POST /images`, waiting for the images as long as the function
   * lives (a function URL has no 30 s limit), answered in OpenAI's shape. A replay of an Idempotency-Key whose image
   * is still being made is 409, which the SDKs retry until it is done.
   *
   * With `n` > 1 some images may fail where others succeed: the answer is a 200 with the images made (each failed
   * one given back to the quota unless the provider may have billed it), `x-images-missing` counting the others and
   * `missing` saying why; when none was made, the first image's error. An error for images already paid for would
   * make the SDK retry, and pay for them again.
   */
  const postV1Generations: RouteHandler = (event, context) => answerV1(event, context, 'image_generation');

  /**
   * OpenAI's `images.edit`: the files sent with the request are stored as the caller's uploads (checked, and only
   * once the request is found valid), then the edit runs as `POST /images` runs one that names uploads, and is
   * answered as `images.generate` is (streamed too, as `image_edit.*` events).
   */
  const postV1Edits: RouteHandler = async (event, context) => {
    const { inputFiles } = context;
    if (inputFiles === undefined) throw new Error('middleware chain is incomplete');
    await useCases.uploads.store(principalOf(context), inputFiles, v1Deadline(context));
    return answerV1(event, context, 'image_edit');
  };

  /** When a `/v1` answer is due: the function's own end (a function URL has no gateway limit), less a margin. */
  const v1Deadline = (context: RequestContext): number =>
    deps.now() + (context.getRemainingTimeInMillis?.() ?? config.limits.gatewayTimeoutMs) - V1_END_MARGIN_MS;

  const answerV1 = async (event: Event, context: RequestContext, kind: StreamKind): Promise<Result> => {
    const { imageRequest, providerPrompt, openAI } = context;
    const principal = principalOf(context);
    if (imageRequest === undefined || providerPrompt === undefined || openAI === undefined)
      throw new Error('middleware chain is incomplete');
    const deadline = v1Deadline(context);
    const requestId = requestIdFrom(event, context);
    const order: V1Order = {
      requestId,
      principal,
      idempotencyKey: idempotencyKeyOf(event.headers ?? {}),
      ...imageRequest,
      providerPrompt,
      deadline,
    };
    if (openAI.stream) return streamV1Image(order, kind);
    const { jobs, failures, replayed } = await images.create({
      ...order,
      waitUntil: deadline - V1_READ_BACK_MS,
      ...(openAI.count > 1 ? { count: openAI.count } : {}),
    });
    const answeredAt = deps.now();
    const made: ImageResource[] = [];
    const missing: { id?: string; status: string; code: string; message: string }[] = failures.map((failure) => {
      const error = failure instanceof AppError ? failure : undefined;
      return { status: 'failed', code: error?.code ?? 'internal_error', message: error?.message ?? 'The image failed.' };
    });
    for (const job of jobs) {
      const resource = toResource(job, answeredAt);
      if (resource?.status === 'succeeded') made.push(resource);
      else
        missing.push({ id: job.id, status: job.status, code: 'still_generating', message: `Still being generated as /images/${job.id}.` });
    }
    if (made.length === 0) {
      if (replayed)
        throw new AppError('request_in_progress', 'The image for this Idempotency-Key is still being generated. Retry shortly.');
      throw notFinishedInTime(jobs[0]?.id ?? '');
    }
    const { answered, omitted } =
      openAI.responseFormat === 'both'
        ? await storedBase64(made, deadline)
        : { answered: made.map((resource) => ({ resource })), omitted: [] };
    const [job] = jobs;
    const asked = { quality: job?.quality, background: job?.options?.background };
    return json(
      200,
      { ...openAIImageAnswer(answered, asked), ...(missing.length > 0 ? { missing } : {}) },
      {
        'x-request-id': requestId,
        ...(replayed ? { 'idempotent-replayed': 'true' } : {}),
        ...(omitted.length > 0 ? { 'x-b64-json-omitted': [...new Set(omitted)].join(', ') } : {}),
        ...(missing.length > 0 ? { 'x-images-missing': String(missing.length) } : {}),
      },
    );
  };

  /**
   * `stream: true`: the image as OpenAI's event stream, its partial images and then the image, each with its stored
   * URL. What is refused before anything is spent (validation, quota, moderation) is answered as the usual error,
   * with its status; once the job is written the answer is a 200 stream, and a failure after that is OpenAI's
   * `error` event (never retried by the SDKs: the provider may have billed).
   *
   * Where the function streams (the `/v1` function URL, `InvokeMode: RESPONSE_STREAM`) each event is sent as the
   * image is made; where an answer is buffered (API Gateway, `invoke local`) the same events arrive at the end.
   */
  const streamV1Image = async (order: V1Order, kind: StreamKind): Promise<Result> => {
    const { requestId, principal, deadline } = order;
    let onStarted: (job: ImageJob) => void = () => undefined;
    const started = new Promise<ImageJob>((resolve) => {
      onStarted = resolve;
    });
    // Not waited for here: the stream follows the job instead.
    const creating = images.create({ ...order, waitUntil: deps.now(), onStarted });
    // The stream reports how the job ends; an inline run's own outcome says the same and is awaited at the end.
    creating.catch(() => undefined);
    const job = await Promise.race([started, creating.then((outcome) => outcome.job)]);
    const asked = { quality: job.quality, background: job.options?.background, size: job.size, format: job.format };
    const budget = streamResponses ? V1_MAX_STREAMED_IMAGE_BYTES : V1_MAX_B64_IMAGE_BYTES;
    async function* events(): AsyncGenerator<string> {
      try {
        for await (const progress of images.follow(principal, job.id, { deadline, budgetBytes: budget })) {
          yield openAIStreamEvent(kind, progress, asked, job.createdAt);
        }
      } catch (error) {
        logger.warn('image stream ended with an error event', {
          imageId: job.id,
          errorCode: error instanceof AppError ? error.code : 'internal_error',
        });
        yield openAIStreamError(error, requestId);
      }
      await creating.catch(() => undefined);
    }
    const headers = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-request-id': requestId };
    if (!streamResponses) {
      let text = '';
      for await (const chunk of events()) text += chunk;
      return { statusCode: 200, headers, body: text };
    }
    // middy's streaming mode pipes a Readable body into Lambda's response stream (the type says string: it is the
    // buffered answer's).
    return { statusCode: 200, headers, body: Readable.from(withHeartbeat(events(), V1_STREAM_HEARTBEAT_MS)) as unknown as string };
  };

  /**
   * The stored images' bytes for `b64_json`. The images are generated, paid for and stored, so the answer is a 200
   * whatever happens here: the bytes travel while they fit one Lambda answer (6 MB; base64 is 4/3 of the bytes, so
   * 4 MiB of images in all, in order) and can be read back; otherwise an image has its URL alone and
   * x-b64-json-omitted says why. An error now would make the SDK retry, and its retry is a new, billed generation.
   */
  const storedBase64 = async (
    resources: readonly ImageResource[],
    deadline: number,
  ): Promise<{ answered: AnsweredImage[]; omitted: ('too-large' | 'unreadable')[] }> => {
    // In order, each image may take what the ones before it left of the answer's budget.
    let budget = V1_MAX_B64_IMAGE_BYTES;
    const allowances = resources.map((resource) => {
      const allowance = budget;
      if ((resource.bytes ?? allowance + 1) <= allowance) budget -= resource.bytes ?? 0;
      return allowance;
    });
    const read = await Promise.all(resources.map((resource, index) => images.read(resource, allowances[index] ?? 0, deadline)));
    const answered = read.map((bytes, index): AnsweredImage => {
      const resource = resources[index] as ImageResource;
      return 'bytes' in bytes ? { resource, b64: bytes.bytes.toString('base64') } : { resource };
    });
    const omitted = read.flatMap((bytes) => ('omitted' in bytes ? [bytes.omitted] : []));
    return { answered, omitted };
  };

  const getUsage: RouteHandler = async (_event, context) => {
    const usage = await images.usage(principalOf(context));
    const now = deps.now();
    const spent = usage.settledMicroUsd + usage.reservedMicroUsd;
    return json(
      200,
      {
        day: usage.day,
        images: { used: usage.imagesUsed, limit: usage.imageLimit, remaining: Math.max(0, usage.imageLimit - usage.imagesUsed) },
        spendUsd: {
          settled: microUsdToUsd(usage.settledMicroUsd),
          reserved: microUsdToUsd(usage.reservedMicroUsd),
          limit: microUsdToUsd(usage.spendLimitMicroUsd),
          remaining: microUsdToUsd(Math.max(0, usage.spendLimitMicroUsd - spent)),
        },
        resetsAt: new Date(usage.resetAt).toISOString(),
        serviceCapReached: usage.serviceCapReached,
      },
      quotaHeaders({ limit: usage.imageLimit, remaining: Math.max(0, usage.imageLimit - usage.imagesUsed), resetAt: usage.resetAt }, now),
    );
  };

  /** A signed form for one input image, sent by the caller straight to the bucket. */
  const postUploads: RouteHandler = async (event, context) => {
    const ticket = await useCases.uploads.create(principalOf(context), (event as { body?: unknown }).body);
    return json(201, ticket, { 'cache-control': 'no-store' });
  };

  const listV1Models: RouteHandler = async (event, context) =>
    json(200, openAIModelList(config.imageModels), { 'x-request-id': requestIdFrom(event, context) });

  const getImage: RouteHandler = async (event, context) => {
    if (!images.resources) throw noResources();
    return json(200, await images.get(principalOf(context), event.pathParameters?.['id'] ?? ''));
  };

  const listImages: RouteHandler = async (event, context) => {
    if (!images.resources) throw noResources();
    const query = event.queryStringParameters ?? {};
    return json(200, await images.list({ principal: principalOf(context), limit: query['limit'], cursor: query['cursor'] }));
  };

  const deleteImage: RouteHandler = async (event, context) => {
    if (!images.resources) throw noResources();
    await images.delete(principalOf(context), event.pathParameters?.['id'] ?? '');
    return { statusCode: 204, headers: { 'cache-control': 'no-store' } };
  };

  const page = pageSurface(config);

  const route = (handler: RouteHandler, ...middlewares: HttpMiddleware[]) =>
    middy<Event, Result, Error, RequestContext>().use(auth).use(middlewares).handler(handler);

  // Both image-creating routes: the same bounds, parsing, rules and prompt hardening; only the body's shape differs.
  const readBody = [bodyLimit({ maxBytes: config.limits.maxBodyBytes }), requireJsonBody(), httpJsonBodyParser() as HttpMiddleware];
  const requestRules = {
    defaultModel: config.imageModel,
    allowedModels: config.imageModels,
    maxPromptChars: config.limits.maxPromptChars,
    prompt: config.prompt,
  };
  const harden = hardenPromptMiddleware({ ...config.prompt, maxPromptUnits: (model) => familyOf(model)?.maxPromptChars ?? 0 });

  // A route that creates images asks for the openai SDK's chunk last before its handler: only a request from a known
  // caller, with a valid body, asks for it, and its next call is then the use case's first (the quota's and the
  // idempotency record's round trip, which the chunk's compile fills: loadOpenAI). Asked for at the first line, a JWT
  // caller's request saw the read of the key from SSM go out first, and the compile then held back the calls to
  // DynamoDB instead.
  const loadOpenAI: HttpMiddleware = { before: () => deps.loadOpenAI?.() };
  const creatingRoute = (handler: RouteHandler, ...middlewares: HttpMiddleware[]) => route(handler, ...middlewares, loadOpenAI);

  // The routes that create images: a request to one starts, at its first line, the read of the provider key it will
  // need.
  const creating = new Set<string>();
  const creates = <R extends { path: string }>(candidate: R): R => {
    creating.add(candidate.path);
    return candidate;
  };

  // The one route table: the router, `405 Allow` and each function's surface come from it.
  const routes = (
    [
      creates({
        method: 'POST',
        path: '/images',
        handler: creatingRoute(postImages, ...readBody, validateImageRequestBody(requestRules), harden),
      }),
      creates({
        method: 'POST',
        path: '/v1/images/generations',
        handler: creatingRoute(postV1Generations, ...readBody, openAIImageRequestBody(requestRules), harden),
      }),
      creates({
        method: 'POST',
        path: '/v1/images/edits',
        handler: creatingRoute(
          postV1Edits,
          bodyLimit({ maxBytes: V1_MAX_EDIT_BODY_BYTES }),
          editFormParser(),
          openAIEditRequestBody(requestRules, deps.newId),
          harden,
        ),
      }),
      { method: 'GET', path: '/v1/models', handler: route(listV1Models) },
      { method: 'GET', path: '/usage', handler: route(getUsage) },
      { method: 'POST', path: '/uploads', handler: route(postUploads, ...readBody) },
      { method: 'GET', path: '/images', handler: route(listImages) },
      { method: 'GET', path: '/images/{id}', handler: route(getImage) },
      { method: 'DELETE', path: '/images/{id}', handler: route(deleteImage) },
      // The Generate page (no credentials: the page asks for them).
      ...page.routes,
      // Public, like any API description: no credentials needed to read the contract.
      {
        method: 'GET',
        path: '/openapi.json',
        handler: async (): Promise<Result> => ({
          statusCode: 200,
          headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'public, max-age=300' },
          body: await openApiDocumentText(),
        }),
      },
    ] satisfies Route<Event, Result>[]
  ).filter((candidate) => surface === 'all' || candidate.path.startsWith('/v1/'));

  const allowedMethods = allowedMethodsOf(routes);
  // Matched as the router matches (one trailing slash), and only where this surface serves the route.
  const creatingPatterns = routes.filter((candidate) => creating.has(candidate.path)).map((candidate) => patternOf(candidate.path));
  const router = httpRouterHandler({
    routes,
    // The router's own 404 has no code and no Allow: answer with the API's JSON errors instead.
    notFoundResponse: ({ path }: { method: string; path: string }) => {
      const allowed = allowedMethods(path);
      if (allowed.length > 0) {
        throw new AppError('method_not_allowed', `Allowed methods for this path: ${allowed.join(', ')}.`, {
          headers: { Allow: allowed.join(', ') },
        });
      }
      throw new AppError('not_found', 'No such route. The routes are listed at GET /openapi.json.');
    },
  });

  return (
    middy<Event, Result, Error, RequestContext>(streamResponses ? { executionMode: executionModeStreamifyResponse } : {})
      // onError handlers run in reverse order: errorResponse builds the error response first, then the security
      // headers are added to it, and only then does the logger drop this request's keys.
      .use(injectLambdaContext(logger, { resetKeys: true }))
      // The function URL has no gateway and so no access log of its own.
      .use(surface === 'v1' ? [accessLog({ log: logger })] : [])
      .use(page.headers)
      .use(httpSecurityHeaders({ permissionsPolicy: false }))
      .use(errorResponse({ log: logger, metrics: deps.metrics, dialect: openAIErrorDialect }))
      .use(httpHeaderNormalizer())
      .use({
        before: (request: HttpRequest) => {
          deps.metrics.coldStart?.(request.context.functionName);
          logger.appendKeys({ requestId: requestIdOf(request) });
          // A key kept in SSM is read beside authentication rather than after it (one round trip less when the
          // cache is cold). Cached and shared, so unauthenticated requests cannot multiply the reads.
          const http = request.event.requestContext?.http;
          if (http?.method === 'POST' && creatingPatterns.some((pattern) => pattern.test(http.path))) deps.prefetchSecrets?.();
        },
      })
      .handler(router as unknown as RouteHandler)
  );
}

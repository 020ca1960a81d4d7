import middy from '@middy/core';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import httpJsonBodyParser from '@middy/http-json-body-parser';
import httpSecurityHeaders from '@middy/http-security-headers';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { Dependencies } from '../clients.js';
import { requestDeadline } from '../domain/deadline.js';
import { createGenerateImage } from '../generate-image.js';
import { authenticate } from '../middleware/authenticate.js';
import { AppError } from '../errors.js';
import { bodyLimit } from '../middleware/body-limit.js';
import { errorResponse, requestIdOf } from '../middleware/error-response.js';
import { hardenPromptMiddleware } from '../middleware/harden-prompt.js';
import type { HttpRequest, RequestContext } from '../middleware/types.js';
import { validateImageRequestBody } from '../middleware/validate-image-request.js';

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

/**
 * `POST /images`: the middy chain and nothing else. Order is the security model: who is asking (401), how big
 * (413), is it JSON (415/400), is it a valid request (400), harden the prompt; only then the use case, which
 * is the only step that can spend money.
 */
export function createGenerateImageHandler(deps: Dependencies) {
  const { config, logger } = deps;
  const generateImage = createGenerateImage({
    generator: deps.generator,
    store: deps.store,
    log: logger,
    publicBaseUrl: config.publicBaseUrl,
    imagePrefix: config.imagePrefix,
    recordPrefix: config.recordPrefix,
    maxImageBytes: config.limits.maxImageBytes,
    uploadReserveMs: config.limits.uploadReserveMs,
    minProviderTimeMs: config.limits.minProviderTimeMs,
    now: deps.now,
    newId: deps.newId,
    quota: deps.quota,
    moderator: deps.moderator,
    moderationFailOpen: config.moderation.mode === 'fail-open',
    idempotency: deps.idempotency,
    estimateCost: deps.estimateCost,
  });

  const generateImageHttp = async (
    event: APIGatewayProxyEventV2,
    context: RequestContext,
  ): Promise<APIGatewayProxyStructuredResultV2> => {
    const { principal, imageRequest, providerPrompt } = context;
    if (principal === undefined || imageRequest === undefined || providerPrompt === undefined) {
      throw new Error('middleware chain is incomplete');
    }
    const now = deps.now();
    const outcome = await generateImage({
      requestId: event.requestContext?.requestId ?? context.awsRequestId,
      principal,
      idempotencyKey: idempotencyKeyOf(event.headers ?? {}),
      ...imageRequest,
      providerPrompt,
      deadline: requestDeadline({
        now,
        lambdaRemainingMs: context.getRemainingTimeInMillis?.() ?? config.limits.gatewayTimeoutMs,
        gatewayReceivedAt: event.requestContext?.timeEpoch,
        gatewayTimeoutMs: config.limits.gatewayTimeoutMs,
      }),
    });
    const { image, quota, replayed } = outcome;
    return {
      statusCode: 201,
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'no-store',
        location: image.url,
        ...(replayed ? { 'idempotent-replayed': 'true' } : {}),
        ...(quota
          ? {
              'ratelimit-limit': String(quota.limit),
              'ratelimit-remaining': String(quota.remaining),
              'ratelimit-reset': String(Math.max(0, Math.ceil((quota.resetAt - now) / 1000))),
            }
          : {}),
      },
      body: JSON.stringify(image),
    };
  };

  return middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Error, RequestContext>()
    // onError handlers run in reverse order: errorResponse builds the error response first, then the security
    // headers are added to it, and only then does the logger drop this request's keys.
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(httpSecurityHeaders())
    .use(errorResponse({ log: logger }))
    .use(httpHeaderNormalizer())
    .use({
      before: (request: HttpRequest) => {
        logger.appendKeys({ requestId: requestIdOf(request) });
      },
    })
    .use(
      authenticate({
        apiKeys: config.apiKeys,
        tokens: deps.tokens,
        onAuthenticated: (principal) => logger.appendKeys({ principal: principal.id, principalKind: principal.kind }),
      }),
    )
    .use(bodyLimit({ maxBytes: config.limits.maxBodyBytes }))
    .use(httpJsonBodyParser())
    .use(
      validateImageRequestBody({
        defaultModel: config.imageModel,
        allowedModels: config.imageModels,
        maxPromptChars: config.limits.maxPromptChars,
        prompt: config.prompt,
      }),
    )
    .use(hardenPromptMiddleware(config.prompt))
    .handler(generateImageHttp);
}

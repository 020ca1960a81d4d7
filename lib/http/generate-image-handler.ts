import middy from '@middy/core';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import httpJsonBodyParser from '@middy/http-json-body-parser';
import httpSecurityHeaders from '@middy/http-security-headers';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { Dependencies } from '../clients.js';
import { requestDeadline } from '../domain/deadline.js';
import { createGenerateImage } from '../generate-image.js';
import { authenticateApiKey } from '../middleware/authenticate-api-key.js';
import { bodyLimit } from '../middleware/body-limit.js';
import { errorResponse, requestIdOf } from '../middleware/error-response.js';
import { hardenPromptMiddleware } from '../middleware/harden-prompt.js';
import type { HttpRequest, RequestContext } from '../middleware/types.js';
import { validateImageRequestBody } from '../middleware/validate-image-request.js';

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
    const result = await generateImage({
      requestId: event.requestContext?.requestId ?? context.awsRequestId,
      principal,
      ...imageRequest,
      providerPrompt,
      deadline: requestDeadline({
        now,
        lambdaRemainingMs: context.getRemainingTimeInMillis?.() ?? config.limits.gatewayTimeoutMs,
        gatewayReceivedAt: event.requestContext?.timeEpoch,
        gatewayTimeoutMs: config.limits.gatewayTimeoutMs,
      }),
    });
    return {
      statusCode: 201,
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'no-store',
        location: result.url,
      },
      body: JSON.stringify(result),
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
      authenticateApiKey({
        apiKeys: config.apiKeys,
        onAuthenticated: (principal) => logger.appendKeys({ principal }),
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

import type middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { ImageRequest } from '../domain/image-request.js';
import type { Principal } from '../ports.js';

/**
 * What the middlewares learn about a request. Kept on the per-invocation context, as middy's official
 * middlewares do (`setToContext`), because that is what the handler receives; never in module state.
 */
export type RequestState = {
  principal?: Principal;
  imageRequest?: ImageRequest;
  providerPrompt?: string;
  /** `/v1` only: whether the answer carries the image's URL or its bytes. */
  responseFormat?: 'url' | 'both';
};

export type RequestContext = Context & RequestState;

export type HttpRequest = middy.Request<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Error, RequestContext>;

export type HttpMiddleware = middy.MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Error, RequestContext>;

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
  /** `/v1` only: how the answer is wanted. */
  openAI?: OpenAIAnswerShape;
  /** `/v1/images/edits` only: the files sent, to be stored as the caller's uploads under these ids. */
  inputFiles?: InputFile[];
};

/** A file sent with a request, to be stored as one of the caller's uploads (`field` names it in a refusal). */
export interface InputFile {
  id: string;
  field: string;
  bytes: Buffer;
}

/** `/v1`'s answer as asked: the URL alone or the bytes too, how many images, and whether as an event stream. */
export interface OpenAIAnswerShape {
  responseFormat: 'url' | 'both';
  count: number;
  stream: boolean;
}

export type RequestContext = Context & RequestState;

export type HttpRequest = middy.Request<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Error, RequestContext>;

export type HttpMiddleware = middy.MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Error, RequestContext>;

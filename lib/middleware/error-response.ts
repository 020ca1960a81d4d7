import { AppError, isAppError, toErrorResponse } from '../errors.js';
import { mapStackFrames } from '../stack-trace.js';
import type { Log, MetricsRecorder } from '../ports.js';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { HttpMiddleware, HttpRequest } from './types.js';

/**
 * An error answer in another dialect than this API's contract, for the requests a route family answers in its own
 * (OpenAI's `/v1`); undefined for every other request. Given by the HTTP layer, so that this middleware knows no
 * route and no dialect.
 */
export type ErrorDialect = (request: HttpRequest, error: unknown, requestId: string) => APIGatewayProxyStructuredResultV2 | undefined;

/**
 * Turns any error into the JSON error contract `{ error: { code, message, requestId } }`.
 *
 * Our own instead of @middy/http-error-handler because that one answers with the error's plain-text message and
 * no error code; our contract needs a stable code, the request id and a fixed message for server errors.
 */
export function errorResponse(options: {
  log: Log;
  metrics?: MetricsRecorder | undefined;
  dialect?: ErrorDialect | undefined;
}): HttpMiddleware {
  const errorResponseMiddlewareOnError = (request: HttpRequest): void => {
    const error = fromMiddyError(request.error);
    const requestId = requestIdOf(request);
    const { statusCode, headers, body } = toErrorResponse(error, requestId);
    logFailure(options.log, error, statusCode);
    options.metrics?.record('Failures', 1, 'Count', { errorCode: body.error.code });
    if (body.error.code === 'quota_exceeded' || body.error.code === 'spend_cap_reached') {
      options.metrics?.record('QuotaRefusals', 1, 'Count', { errorCode: body.error.code });
    }
    const spoken = options.dialect?.(request, error, requestId);
    if (spoken) {
      request.response = spoken;
      return;
    }
    request.response = {
      statusCode,
      headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
      body: JSON.stringify(body),
    };
  };
  return { onError: errorResponseMiddlewareOnError };
}

/** serverless-offline gives every request this same API Gateway request id; Lambda's own id is unique there. */
const OFFLINE_CONSTANT_REQUEST_ID = 'offlineContext_resourceId';

/**
 * The id a caller can quote: API Gateway's request id (what its access logs show), or the Lambda request id when
 * there is no gateway id or it is serverless-offline's constant.
 */
export const requestIdFrom = (
  event: { requestContext?: { requestId?: string } } | undefined,
  context: { awsRequestId?: string } | undefined,
): string => {
  const gateway = event?.requestContext?.requestId;
  if (gateway && gateway !== OFFLINE_CONSTANT_REQUEST_ID) return gateway;
  return context?.awsRequestId ?? gateway ?? 'unknown';
};

export const requestIdOf = (request: HttpRequest): string => requestIdFrom(request.event, request.context);

/** The official body parsers throw middy HTTP errors; give them our codes (their messages are fine to show). */
function fromMiddyError(error: unknown): unknown {
  if (isAppError(error) || !(error instanceof Error)) return error;
  const { statusCode, cause } = error as Error & { statusCode?: number; cause?: { package?: string } };
  if (cause?.package === '@middy/http-json-body-parser') {
    if (statusCode === 415) {
      return new AppError('unsupported_media_type', 'The body must be JSON, sent with Content-Type: application/json.');
    }
    return new AppError('invalid_json', 'The body is not valid JSON.');
  }
  if (cause?.package === '@middy/http-multipart-body-parser') {
    if (statusCode === 415) {
      return new AppError('unsupported_media_type', 'The body must be multipart/form-data (with its boundary), as the SDKs send files.');
    }
    if (statusCode === 413) return new AppError('payload_too_large', 'A file of the form is larger than a request may carry.');
    return new AppError('invalid_request', 'The body is not valid multipart/form-data.', { details: { field: 'body' } });
  }
  return error;
}

function logFailure(log: Log, error: unknown, statusCode: number): void {
  if (isAppError(error)) {
    // Only our code, status and the safe details: never the message of a cause, which may quote input.
    const entry = { errorCode: error.code, statusCode, ...error.details, causeName: causeName(error.cause) };
    if (statusCode >= 500) log.error('request failed', entry);
    else log.info('request refused', entry);
    return;
  }
  // An unexpected error: keep the stack frames for debugging but drop the first line, the message, which for
  // parse errors can contain a slice of the input.
  const stack = error instanceof Error ? mapStackFrames((error.stack ?? '').split('\n').slice(1, 8)).join('\n') : undefined;
  log.error('unexpected error', {
    errorCode: 'internal_error',
    statusCode,
    errorName: error instanceof Error ? error.name : typeof error,
    stack,
  });
}

const causeName = (cause: unknown): string | undefined =>
  cause instanceof Error ? cause.name : cause === undefined ? undefined : typeof cause;

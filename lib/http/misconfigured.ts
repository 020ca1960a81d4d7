import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import middy from '@middy/core';
import { executionModeStreamifyResponse } from '@middy/core/StreamifyResponse';
import { ConfigError } from '../config.js';
import { toErrorResponse, AppError } from '../errors.js';
import { requestIdFrom } from '../middleware/error-response.js';

type ApiHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

/**
 * The API handler, or, when the configuration is wrong, one that answers every request with the API's JSON 500.
 * Thrown at the cold start, a ConfigError would reach callers as Lambda's own error document (the error's message
 * and a stack trace, which API Gateway turns into a bare 500 or passes on); the operator reads the variable's name
 * in the function's log instead, once per cold start.
 */
export function apiOrMisconfigured(build: () => unknown, { streamResponses = false }: { streamResponses?: boolean } = {}): ApiHandler {
  try {
    return build() as ApiHandler;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // One JSON line, as the Logger would write it: the variable and the problem, never a value that is a secret
    // (ConfigError messages do not echo secrets).
    process.stderr.write(
      `${JSON.stringify({
        level: 'ERROR',
        message: 'invalid configuration: every request answers 500',
        variable: error.variable,
        problem: error.message,
      })}\n`,
    );
    const failure = new AppError('internal_error', 'The service is misconfigured.');
    const misconfigured: ApiHandler = async (event, context) => {
      const { statusCode, headers, body } = toErrorResponse(failure, requestIdFrom(event, context));
      return {
        statusCode,
        headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
        body: JSON.stringify(body),
      };
    };
    // A function whose URL streams answers under the streaming contract whatever it answers.
    if (!streamResponses) return misconfigured;
    return middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>({ executionMode: executionModeStreamifyResponse }).handler(
      misconfigured,
    ) as unknown as ApiHandler;
  }
}

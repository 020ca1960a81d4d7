import type { Log } from '../ports.js';
import { requestIdOf } from './error-response.js';
import type { HttpMiddleware, HttpRequest } from './types.js';

export interface AccessLogOptions {
  log: Pick<Log, 'info'>;
  now?: () => number;
}

/**
 * One JSON line per request with the fields of the HTTP API's access log (serverless.yml `logs.httpApi.format`:
 * requestId, ip, requestTime, httpMethod, routeKey, status, protocol, responseLength, responseLatency), for a
 * function that no API Gateway fronts (the `/v1` function URL). Never a header or a body: no key, no prompt.
 *
 * Use it first (outermost): its `after` and `onError` then run last, when the answer, an error's included, is set.
 */
export function accessLog({ log, now = Date.now }: AccessLogOptions): HttpMiddleware {
  const started = new WeakMap<HttpRequest, number>();
  const write = (request: HttpRequest): void => {
    const http = request.event.requestContext?.http;
    const body = request.response?.body;
    const begun = started.get(request) ?? now();
    log.info('access', {
      requestId: requestIdOf(request),
      ip: http?.sourceIp,
      requestTime: new Date(begun).toISOString(),
      httpMethod: http?.method,
      routeKey: `${http?.method ?? ''} ${http?.path ?? ''}`,
      status: request.response?.statusCode,
      protocol: http?.protocol,
      responseLength: typeof body === 'string' ? Buffer.byteLength(body, request.response?.isBase64Encoded ? 'base64' : 'utf8') : 0,
      responseLatency: now() - begun,
    });
  };
  return {
    before: (request) => {
      started.set(request, now());
    },
    after: write,
    onError: write,
  };
}

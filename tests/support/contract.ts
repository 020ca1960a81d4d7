import { readFileSync } from 'node:fs';
import addFormats from 'ajv-formats';
import { OpenAPIBackend, SetMatchType, ValidationContext, type Document, type Operation } from 'openapi-backend';
import { parse } from 'yaml';
import { sseEvents } from './sse.js';

/**
 * The API contract (openapi.yaml) as a response checker, on openapi-backend (Ajv underneath). Every response a
 * suite receives goes through `check`, which throws when the route or the status is not in the document, or the
 * body or headers do not match it, so the document cannot drift from the code.
 */
export const openApiDocument = parse(readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8')) as Document;

// The document itself is checked against the OpenAPI 3.1 schema in tests/unit/openapi.test.ts (openapi-backend's own
// document check knows 3.0 only, and `quick` skips it); here it is used for what it does well, matching routes and
// validating answers.
const api = new OpenAPIBackend({
  definition: openApiDocument,
  strict: false,
  validate: true,
  quick: true,
  ignoreTrailingSlashes: true,
  apiRoot: '/',
  // `format: uri` and `date-time` are checked, not ignored.
  customizeAjv: (ajv) => {
    // A CommonJS module: its default export is the module object, whose `default` is the plugin.
    addFormats.default(ajv as never);
    return ajv;
  },
});
await api.init();

export interface CheckedResponse {
  statusCode: number;
  headers?: Record<string, string | number | boolean> | Headers | undefined;
  body?: string | undefined;
}

const headerObject = (headers: CheckedResponse['headers']): Record<string, string> => {
  if (!headers) return {};
  if (headers instanceof Headers) return Object.fromEntries([...headers.entries()]);
  return Object.fromEntries(Object.entries(headers).map(([key, value]) => [key.toLowerCase(), String(value)]));
};

type EventCheck = ((data: unknown) => boolean) & { errors?: unknown };
const eventChecks = new Map<object, EventCheck>();

/**
 * An event stream (`text/event-stream`) checked event by event: the operation declares the media type, and each
 * event's `data:` matches its `x-event-schema` (OpenAPI 3.1 has no item schema for a stream; 3.2's `itemSchema` is
 * this) and names the same `type` as its `event:` line.
 */
function checkEventStream(where: string, operation: Operation, statusCode: number, body: string): void {
  const declared = (operation.responses?.[String(statusCode)] as { content?: Record<string, Record<string, unknown>> } | undefined)
    ?.content?.['text/event-stream'];
  const schema = declared?.['x-event-schema'] as object | undefined;
  if (!schema) throw new Error(`${where}: text/event-stream not declared in openapi.yaml`);
  let check = eventChecks.get(schema);
  if (!check) {
    check = api.validator.getAjv(ValidationContext.Response).compile(schema) as EventCheck;
    eventChecks.set(schema, check);
  }
  for (const { event, data } of sseEvents(body)) {
    if (!check(data)) throw new Error(`${where}: event ${event} does not match openapi.yaml: ${JSON.stringify(check.errors)}`);
    if (data?.['type'] !== event) throw new Error(`${where}: event ${event} carries type ${String(data?.['type'])}`);
  }
}

/** Checks one response of `method path` against the contract; throws with the reasons when it does not hold. */
export function checkContract(method: string, path: string, response: CheckedResponse): void {
  const contentType = headerObject(response.headers)['content-type'] ?? '';
  const isJson = contentType === '' || contentType.startsWith('application/json');
  const body =
    response.body === undefined || response.body === '' ? undefined : isJson ? (JSON.parse(response.body) as unknown) : response.body;
  const operation = api.matchOperation({ method: method.toLowerCase(), path: path.split('?')[0] ?? path, headers: {} });
  const where = `${method} ${path} -> ${response.statusCode}`;
  if (!operation) {
    // A path or method the API does not have: only the JSON 404/405 may answer it.
    if (response.statusCode !== 404 && response.statusCode !== 405) throw new Error(`${where}: route missing in openapi.yaml`);
    // Validated as the documented 404 error body (the same Error schema as every error answer; OpenAI's under /v1).
    const result = api.validateResponse(body, path.startsWith('/v1/') ? 'createImageOpenAI' : 'getImage', 404);
    if (result.errors?.length) throw new Error(`${where}: ${JSON.stringify(result.errors)}`);
    return;
  }
  const declared = Object.keys((operation.responses ?? {}) as Record<string, unknown>);
  if (!declared.includes(String(response.statusCode))) {
    throw new Error(`${where}: status not declared for ${operation.operationId} in openapi.yaml (declared: ${declared.join(', ')})`);
  }
  if (contentType.startsWith('text/event-stream')) checkEventStream(where, operation, response.statusCode, response.body ?? '');
  else if (response.statusCode !== 204) {
    const result = api.validateResponse(body, operation, response.statusCode);
    if (result.errors?.length) throw new Error(`${where}: body does not match openapi.yaml: ${JSON.stringify(result.errors)}`);
  }
  const headers = api.validateResponseHeaders(headerObject(response.headers), operation, {
    statusCode: response.statusCode,
    // Declared headers are checked when present; the response may carry others (security headers, CORS).
    setMatchType: SetMatchType.Any,
  });
  if (headers.errors?.length) throw new Error(`${where}: headers do not match openapi.yaml: ${JSON.stringify(headers.errors)}`);
}

type LambdaHandler<E, C, R> = (event: E, context: C) => Promise<R>;

/** A handler whose every answer is checked against the contract before the test sees it. */
export function withContract<
  E extends { rawPath: string; requestContext: { http: { method: string } } },
  C,
  R extends { statusCode?: number | undefined; headers?: Record<string, string | number | boolean> | undefined; body?: string | undefined },
>(handler: LambdaHandler<E, C, R>): LambdaHandler<E, C, R> {
  return async (event, context) => {
    const { method } = event.requestContext.http;
    const path = event.rawPath;
    const response = await handler(event, context);
    checkContract(method, path, { statusCode: response.statusCode ?? 200, headers: response.headers, body: response.body });
    return response;
  };
}

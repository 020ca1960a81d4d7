import { describe, expect, it } from '@jest/globals';
import { ConfigError } from '../../lib/config.js';
import { apiOrMisconfigured } from '../../lib/http/misconfigured.js';
import { captureOutput } from '../support/capture-logs.js';
import { httpEvent, lambdaContext } from '../support/lambda.js';

describe('a cold start with a wrong configuration value', () => {
  it("answers every request with the API's JSON 500, no stack, and names the variable once in the log", async () => {
    const { result: handler, output } = await captureOutput(async () =>
      apiOrMisconfigured(() => {
        throw new ConfigError('DAILY_IMAGE_LIMIT', 'must be a whole number, got "fifty"');
      }),
    );
    const response = await handler(httpEvent({ body: '{"prompt":"fox"}' }), lambdaContext());
    expect(response.statusCode).toBe(500);
    expect(response.headers?.['content-type']).toMatch(/^application\/json/);
    const body = JSON.parse(response.body ?? '{}') as { error: { code: string; message: string; requestId: string } };
    expect(body.error).toMatchObject({ code: 'internal_error', requestId: expect.any(String) });
    expect(response.body).not.toMatch(/stack|fifty|DAILY_IMAGE_LIMIT|at .*:\d+/);
    expect(JSON.parse(output.trim())).toMatchObject({ level: 'ERROR', variable: 'DAILY_IMAGE_LIMIT' });
  });

  it('leaves any other failure of the cold start to Lambda', () => {
    expect(() =>
      apiOrMisconfigured(() => {
        throw new TypeError('a bug');
      }),
    ).toThrow('a bug');
  });
});

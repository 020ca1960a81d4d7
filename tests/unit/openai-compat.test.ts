import { describe, expect, it } from '@jest/globals';
import { AppError } from '../../lib/errors.js';
import { openAIErrorResponse, translateGenerationRequest } from '../../lib/http/openai-compat.js';

/** /v1's translation, field by field and error by error (the SDK suite shows the same through the real stack). */

describe('OpenAI request -> native request', () => {
  it("maps OpenAI's names and defaults to the native body", () => {
    expect(
      translateGenerationRequest({
        model: 'gpt-image-2',
        prompt: 'a fox',
        size: '1024x1024',
        quality: 'auto',
        output_format: 'webp',
        n: 1,
        background: 'auto',
        moderation: 'auto',
        output_compression: 100,
        user: 'user-42',
      }),
    ).toEqual({
      body: { model: 'gpt-image-2', prompt: 'a fox', size: '1024x1024', format: 'webp' },
      responseFormat: 'both',
      count: 1,
      stream: false,
    });
    expect(translateGenerationRequest({ prompt: 'a fox', n: 10 }).count).toBe(10);
    expect(translateGenerationRequest({ prompt: 'a fox', stream: true, partial_images: 2 })).toMatchObject({
      body: { prompt: 'a fox', previews: 2 },
      stream: true,
    });
    // b64_json is OpenAI's default for GPT image models: the bytes and the URL both, unless the URL alone is asked.
    expect(translateGenerationRequest({ prompt: 'a fox' }).responseFormat).toBe('both');
    expect(translateGenerationRequest({ prompt: 'a fox', response_format: 'b64_json' }).responseFormat).toBe('both');
    expect(translateGenerationRequest({ prompt: 'a fox', response_format: 'url' }).responseFormat).toBe('url');
    // stream: false and partial_images: 0 are OpenAI's defaults, sent as such by some callers.
    expect(translateGenerationRequest({ prompt: 'a fox', stream: false, partial_images: 0 }).body).toEqual({ prompt: 'a fox' });
  });

  it('passes background, moderation and output_compression on under their native names', () => {
    expect(
      translateGenerationRequest({
        prompt: 'a fox',
        background: 'opaque',
        moderation: 'low',
        output_format: 'jpeg',
        output_compression: 50,
      }).body,
    ).toEqual({ prompt: 'a fox', background: 'opaque', moderation: 'low', format: 'jpeg', compression: 50 });
  });

  it.each([
    [{ prompt: 'a fox', n: 11 }, 'n'],
    [{ prompt: 'a fox', n: '2' }, 'n'],
    [{ prompt: 'a fox', stream: true, n: 2 }, 'n'],
    [{ prompt: 'a fox', stream: 'yes' }, 'stream'],
    [{ prompt: 'a fox', stream: true, partial_images: 4 }, 'partial_images'],
    [{ prompt: 'a fox', response_format: 'png' }, 'response_format'],
    [{ prompt: 'a fox', user: 'x'.repeat(257) }, 'user'],
    [{ prompt: 'a fox', partial_images: 2 }, 'partial_images'],
    [{ prompt: 'a fox', 'evil\nfield': 1 }, 'evil?field'],
    [[], 'body'],
  ])('refuses %j naming %s', (body, param) => {
    const error = (() => {
      try {
        translateGenerationRequest(body);
      } catch (caught) {
        return caught as AppError;
      }
      throw new Error('not refused');
    })();
    expect(error).toMatchObject({ code: 'invalid_request', details: { field: param } });
  });
});

describe('native error -> OpenAI error', () => {
  const shown = (error: unknown) => {
    const answer = openAIErrorResponse(error, 'req-1');
    return {
      status: answer.statusCode,
      retry: answer.headers['x-should-retry'],
      body: JSON.parse(answer.body) as { error: Record<string, unknown> },
    };
  };

  it.each([
    [new AppError('unauthorized', 'no'), 401, { type: 'invalid_request_error', code: 'invalid_api_key', param: null }, undefined],
    [
      new AppError('invalid_request', 'bad size', { details: { field: 'size' } }),
      400,
      { type: 'invalid_request_error', param: 'size' },
      undefined,
    ],
    [new AppError('invalid_request', 'bad', { details: { field: 'format' } }), 400, { param: 'output_format' }, undefined],
    [
      new AppError('content_policy_violation', 'refused'),
      400,
      { type: 'image_generation_user_error', code: 'moderation_blocked' },
      undefined,
    ],
    [new AppError('quota_exceeded', 'limit'), 429, { type: 'insufficient_quota', code: 'quota_exceeded' }, 'false'],
    [new AppError('provider_busy', 'busy'), 503, { type: 'server_error', code: 'provider_busy' }, undefined],
    [new AppError('provider_error', 'broke', { mayBeBilled: true }), 502, { type: 'server_error' }, 'false'],
    [new AppError('provider_error', 'never sent', { mayBeBilled: false }), 502, { type: 'server_error' }, undefined],
    [new Error('secret detail'), 500, { type: 'server_error', code: 'internal_error' }, undefined],
  ])('%s -> %i', (error, status, body, retry) => {
    const answer = shown(error);
    expect(answer.status).toBe(status);
    expect(answer.body.error).toMatchObject(body);
    expect(answer.retry).toBe(retry);
    expect(JSON.stringify(answer.body)).not.toContain('secret detail');
  });
});

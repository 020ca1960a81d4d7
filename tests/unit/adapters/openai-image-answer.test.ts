import { describe, expect, it } from '@jest/globals';
import { parseImageAnswer } from '../../../lib/adapters/providers/openai/openai-image-answer.js';
import { AppError } from '../../../lib/errors.js';
import { pngOf } from '../../support/fixtures.js';

const PNG = pngOf(16, 16, 'answer');
const B64 = PNG.toString('base64');
const body = (value: unknown): Buffer => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));

const reasonOf = (run: () => unknown): string => {
  try {
    run();
    return 'none';
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return `${(error as AppError).code}: ${String((error as AppError).details['reason'])}`;
  }
};

describe('parseImageAnswer', () => {
  it('decodes the image and keeps the revised prompt and usage', () => {
    const answer = parseImageAnswer(
      body({ created: 1, data: [{ b64_json: B64, revised_prompt: 'A fox.' }], usage: { total_tokens: 7 } }),
      1_000_000,
    );
    expect(answer.bytes.equals(PNG)).toBe(true);
    expect(answer.revisedPrompt).toBe('A fox.');
    expect(answer.usage).toEqual({ total_tokens: 7 });
  });

  it('accepts the usual JSON spacing around the value', () => {
    const text = `{\n  "data": [\n    {\n      "b64_json" :\t "${B64}"\n    }\n  ]\n}`;
    expect(parseImageAnswer(body(text), 1_000_000).bytes.equals(PNG)).toBe(true);
  });

  it('falls back to a full parse when the first "b64_json" is not data[0] (for example inside another field)', () => {
    const answer = parseImageAnswer(body({ note: 'the key "b64_json": "QUJD" appears in text', data: [{ b64_json: B64 }] }), 1_000_000);
    expect(answer.bytes.equals(PNG)).toBe(true);
  });

  it('reads a value with JSON-escaped slashes (legal JSON) through the full parse', () => {
    expect(B64).toContain('/');
    const text = `{"data":[{"b64_json":"${B64.replace(/\//g, '\\/')}"}]}`;
    expect(parseImageAnswer(body(text), 1_000_000).bytes.equals(PNG)).toBe(true);
  });

  it.each([
    ['no data', { created: 1 }, 'missing b64_json'],
    ['an empty data list', { data: [] }, 'missing b64_json'],
    ['data: null', { data: null }, 'missing b64_json'],
    ['an empty b64_json', { data: [{ b64_json: '' }] }, 'base64 empty'],
    ['a number as b64_json', { data: [{ b64_json: 12 }] }, 'missing b64_json'],
    ['an invalid escape in the value', `{"data":[{"b64_json":"${B64.slice(0, 8)}\\q${B64.slice(10)}"}]}`, 'answer is not valid JSON'],
    [
      'a URL-safe alphabet',
      { data: [{ b64_json: B64.replace(/\+/g, '-').replace(/\//g, '_') + (B64.includes('+') || B64.includes('/') ? '' : '-AAA') }] },
      'base64',
    ],
    ['a cut-off document', `{"data":[{"b64_json":"${B64}"`, 'answer is not valid JSON'],
    ['a cut-off value', `{"data":[{"b64_json":"${B64.slice(0, 40)}`, 'answer is not valid JSON'],
    ['HTML', '<html>502 Bad Gateway</html>', 'answer is not valid JSON'],
  ])('refuses %s as bad_provider_response', (_, value, reason) => {
    expect(reasonOf(() => parseImageAnswer(body(value), 1_000_000))).toContain(`bad_provider_response: ${reason}`);
  });

  it('refuses an image over the limit before decoding it', () => {
    expect(reasonOf(() => parseImageAnswer(body({ data: [{ b64_json: B64 }] }), 100))).toBe('bad_provider_response: base64 too_large');
  });
});

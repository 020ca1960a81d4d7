import { describe, expect, it } from '@jest/globals';
import { validateImageRequest, type RequestRules } from '../../../lib/domain/image-request.js';
import { DEFAULT_CONSTRAINTS, DEFAULT_PROMPT_TEMPLATE } from '../../../lib/domain/prompt-policy.js';

const rules: RequestRules = {
  defaultModel: 'gpt-image-2',
  allowedModels: ['gpt-image-2', 'dall-e-3', 'dall-e-2'],
  maxPromptChars: 4000,
  prompt: { template: DEFAULT_PROMPT_TEMPLATE, constraints: DEFAULT_CONSTRAINTS },
};

const fieldOf = (body: unknown, r: RequestRules = rules): string => {
  const result = validateImageRequest(body, r);
  return result.ok ? 'ok' : result.field;
};

describe('validateImageRequest', () => {
  it('fills the defaults for a prompt-only body', () => {
    expect(validateImageRequest({ prompt: '  a red\u200b fox ' }, rules)).toEqual({
      ok: true,
      value: { prompt: 'a red fox', model: 'gpt-image-2', size: '1024x1024', quality: undefined, format: undefined },
    });
  });

  it('accepts every parameter the gpt-image family takes', () => {
    const result = validateImageRequest(
      { prompt: 'fox', model: 'gpt-image-2', size: '1536x1024', quality: 'high', format: 'webp' },
      rules,
    );
    expect(result.ok).toBe(true);
  });

  it.each([
    [null, 'body'],
    [[], 'body'],
    ['text', 'body'],
    [{}, 'prompt'],
    [{ prompt: 42 }, 'prompt'],
    [{ prompt: '' }, 'prompt'],
    [{ prompt: ' \u200b\n\t ' }, 'prompt'],
    [{ prompt: 'x'.repeat(4001) }, 'prompt'],
    [{ prompt: 'fox', colour: 'red' }, 'colour'],
    [{ prompt: 'fox', model: 'gpt-image-1' }, 'model'],
    [{ prompt: 'fox', model: 7 }, 'model'],
    [{ prompt: 'fox', size: '4096x4096' }, 'size'],
    [{ prompt: 'fox', size: 1024 }, 'size'],
    [{ prompt: 'fox', quality: 'hd' }, 'quality'],
    [{ prompt: 'fox', format: 'gif' }, 'format'],
    [{ prompt: 'fox', model: 'dall-e-3', format: 'webp' }, 'format'],
    [{ prompt: 'fox', model: 'dall-e-3', size: '1536x1024' }, 'size'],
    [{ prompt: 'fox', model: 'dall-e-2', quality: 'standard' }, 'quality'],
    [{ prompt: 'x'.repeat(900), model: 'dall-e-2' }, 'prompt'],
  ])('refuses %j naming the field %s', (body, field) => {
    expect(fieldOf(body)).toBe(field);
  });

  it('names the unknown field in the message', () => {
    const result = validateImageRequest({ prompt: 'fox', qualty: 'high' }, rules);
    expect(result).toMatchObject({ ok: false, field: 'qualty' });
    expect(!result.ok && result.message).toContain('"qualty"');
  });

  it('counts the prompt limit in code points after normalisation', () => {
    expect(fieldOf({ prompt: '🦊'.repeat(4000) })).toBe('ok');
    expect(fieldOf({ prompt: '🦊'.repeat(4001) })).toBe('prompt');
    expect(fieldOf({ prompt: `${'x'.repeat(4000)}\u200b\u200b` })).toBe('ok');
  });
});

import { describe, expect, it } from '@jest/globals';
import { validateImageRequest, type RequestRules } from '../../../lib/domain/image-request.js';
import { DEFAULT_CONSTRAINTS, DEFAULT_PROMPT_TEMPLATE } from '../../../lib/domain/prompt-policy.js';

const rules: RequestRules = {
  defaultModel: 'gpt-image-2',
  allowedModels: ['gpt-image-2', 'bedrock/stability.stable-image-core-v1:1', 'google/gemini-3-pro-image', 'azure/images-prod'],
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
    const result = validateImageRequest({ prompt: 'fox', model: 'gpt-image-2', size: '1536x1024', quality: 'high', format: 'webp' }, rules);
    expect(result.ok).toBe(true);
  });

  it("passes OpenAI's background, compression and moderation level on, leaving their defaults out", () => {
    const ask = (extra: object) => validateImageRequest({ prompt: 'fox', ...extra }, rules);
    expect(ask({ background: 'opaque', format: 'webp', compression: 40, moderation: 'low' })).toMatchObject({
      ok: true,
      value: { options: { background: 'opaque', compression: 40, moderation: 'low' } },
    });
    const defaults = ask({ background: 'auto', moderation: 'auto' });
    expect(defaults.ok && defaults.value.options).toBeUndefined();
    // Azure's GPT image deployments take them as OpenAI's do.
    expect(ask({ model: 'azure/images-prod', background: 'opaque', format: 'jpeg', compression: 0 }).ok).toBe(true);
  });

  it("refuses a transparent gpt-image-2 image in OpenAI's words, before anything is spent", () => {
    expect(validateImageRequest({ prompt: 'fox', background: 'transparent' }, rules)).toEqual({
      ok: false,
      field: 'background',
      message: 'Transparent background is not supported for this model.',
    });
  });

  it.each([
    [{ background: 'none' }, 'background'],
    [{ model: 'bedrock/stability.stable-image-core-v1:1', background: 'opaque' }, 'background'],
    [{ model: 'google/gemini-3-pro-image', background: 'opaque' }, 'background'],
    [{ compression: 50 }, 'compression'],
    [{ format: 'png', compression: 50 }, 'compression'],
    [{ format: 'jpeg', compression: 101 }, 'compression'],
    [{ format: 'jpeg', compression: 1.5 }, 'compression'],
    [{ model: 'bedrock/stability.stable-image-core-v1:1', format: 'jpeg', compression: 50 }, 'compression'],
    [{ moderation: 'off' }, 'moderation'],
    [{ model: 'google/gemini-3-pro-image', moderation: 'low' }, 'moderation'],
  ])('refuses the provider option %j naming %s', (extra, field) => {
    expect(fieldOf({ prompt: 'fox', ...extra })).toBe(field);
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
    [{ prompt: 'fox', model: 'dall-e-3' }, 'model'],
    [{ prompt: 'fox', model: 'bedrock/stability.stable-image-core-v1:1', format: 'webp' }, 'format'],
    [{ prompt: 'fox', model: 'bedrock/stability.stable-image-core-v1:1', size: '1536x1024' }, 'size'],
    [{ prompt: 'fox', model: 'bedrock/stability.stable-image-core-v1:1', quality: 'high' }, 'quality'],
    [{ prompt: 'fox', model: 'google/gemini-3-pro-image', size: '1024x1024' }, 'size'],
    [{ prompt: 'fox', model: 'google/gemini-3-pro-image', quality: 'high' }, 'quality'],
    [{ prompt: 'fox', model: 'google/gemini-3-pro-image', format: 'jpeg' }, 'format'],
    [{ prompt: 'fox', model: 'openai/gpt-image-3' }, 'model'],
    [{ prompt: 'fox', size: '1000x1000' }, 'size'],
    [{ prompt: 'fox', size: '3840x1024' }, 'size'],
    [{ prompt: 'fox', size: '4096x2160' }, 'size'],
    [{ prompt: 'fox', size: '0x1024' }, 'size'],
    // gpt-image-2 refuses fewer than 655,360 pixels and more than 8,294,400 (OpenAI's image generation guide).
    [{ prompt: 'fox', size: '512x512' }, 'size'],
    [{ prompt: 'fox', size: '768x768' }, 'size'],
    [{ prompt: 'fox', size: '1024x576' }, 'size'],
    [{ prompt: 'fox', size: '16x16' }, 'size'],
    [{ prompt: 'fox', size: '3840x2880' }, 'size'],
  ])('refuses %j naming the field %s', (body, field) => {
    expect(fieldOf(body)).toBe(field);
  });

  it('takes a bare or a provider-qualified name for one model, and answers with the listed spelling', () => {
    const qualified = validateImageRequest({ prompt: 'fox', model: 'openai/gpt-image-2' }, rules);
    expect(qualified).toMatchObject({ ok: true, value: { model: 'gpt-image-2' } });
    const azure = validateImageRequest({ prompt: 'fox', model: 'azure/images-prod', size: '1536x1024', quality: 'low' }, rules);
    expect(azure).toMatchObject({ ok: true, value: { model: 'azure/images-prod' } });
  });

  it('accepts gpt-image-2 custom sizes within its stated bounds', () => {
    for (const size of ['1536x864', '3840x2160', '2160x3840', '768x2304', '2560x2560', '2880x2880', '1024x640']) {
      expect(fieldOf({ prompt: 'fox', size })).toBe('ok');
    }
  });

  it('takes aspect ratios for Bedrock and Gemini, and resolution tiers as Gemini quality', () => {
    expect(fieldOf({ prompt: 'fox', model: 'bedrock/stability.stable-image-core-v1:1', size: '16:9', format: 'jpeg' })).toBe('ok');
    expect(fieldOf({ prompt: 'fox', model: 'google/gemini-3-pro-image', size: '21:9', quality: '4K' })).toBe('ok');
  });

  it('lists what the chosen model accepts in the 400', () => {
    const result = validateImageRequest({ prompt: 'fox', model: 'bedrock/stability.stable-image-core-v1:1', size: '1024x1024' }, rules);
    expect(!result.ok && result.message).toContain('"1:1", "16:9"');
    const custom = validateImageRequest({ prompt: 'fox', size: '1000x1000' }, rules);
    expect(!custom.ok && custom.message).toContain('multiples of 16');
    const small = validateImageRequest({ prompt: 'fox', size: '512x512' }, rules);
    expect(!small.ok && small.message).toContain('512x512 needs between 655360 and 8294400 pixels in all');
  });

  it("holds a Bedrock prompt to Stability's 10,000 characters, less the template", () => {
    const long = { ...rules, maxPromptChars: 32_000 };
    expect(fieldOf({ prompt: 'x'.repeat(9_990), model: 'bedrock/stability.stable-image-core-v1:1' }, long)).toBe('prompt');
    expect(fieldOf({ prompt: 'x'.repeat(9_990) }, long)).toBe('ok');
  });

  it('takes previews 0-3 for GPT image models (OpenAI and Azure) only, and names the model that cannot stream them', () => {
    const value = (body: object) => {
      const result = validateImageRequest({ prompt: 'fox', ...body }, rules);
      return result.ok ? result.value : result;
    };
    expect(value({ previews: 3 })).toMatchObject({ previews: 3 });
    // 0 asks for nothing: the request is the same as without the field.
    expect(value({ previews: 0 })).not.toHaveProperty('previews');
    for (const bad of [4, -1, 1.5, '2', null, true]) {
      expect(value({ previews: bad })).toEqual({ ok: false, field: 'previews', message: '"previews" must be an integer from 0 to 3.' });
    }
    expect(value({ model: 'azure/images-prod', previews: 2 })).toMatchObject({ model: 'azure/images-prod', previews: 2 });
    for (const model of ['bedrock/stability.stable-image-core-v1:1', 'google/gemini-3-pro-image']) {
      expect(value({ model, previews: 1 })).toEqual({
        ok: false,
        field: 'previews',
        message: `"previews" is not supported by model ${model}: it does not stream partial images.`,
      });
      expect(value({ model, previews: 0 })).toMatchObject({ model });
    }
    // Up to 2048x1536 (what a worker holds while the SDK parses the stream); larger sizes before anything is spent.
    expect(value({ size: '2048x1536', previews: 1 })).toMatchObject({ previews: 1 });
    expect(value({ size: '1536x1024', previews: 3 })).toMatchObject({ previews: 3 });
    expect(value({ size: '3840x2160', previews: 1 })).toEqual({
      ok: false,
      field: 'previews',
      message: '"previews" is available for sizes of at most 3145728 pixels (2048x1536); 3840x2160 has 8294400.',
    });
    expect(value({ size: '3840x2160' })).toMatchObject({ size: '3840x2160' });
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

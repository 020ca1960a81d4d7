import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { STATUS_BY_CODE } from '../../lib/errors.js';
import { checkContract, openApiDocument } from '../support/contract.js';

const served = JSON.parse(readFileSync(new URL('../../lib/http/openapi.json', import.meta.url), 'utf8')) as unknown;

describe('openapi.yaml', () => {
  it('is what the API serves (lib/http/openapi.json is generated from it: npm run openapi)', () => {
    expect(served).toEqual(openApiDocument);
  });

  it('names its server relative to where it is served, not a local address', () => {
    // Fetched from a deployment (or through CloudFront at /api/), a client resolves "." against the document's URL.
    expect((served as { servers: { url: string }[] }).servers.map((server) => server.url)).toEqual(['.']);
  });

  it('lists exactly the error codes of the taxonomy', () => {
    const schemas = (openApiDocument as unknown as { components: { schemas: Record<string, { enum?: string[] }> } }).components.schemas;
    expect([...(schemas['ErrorCode']?.enum ?? [])].sort()).toEqual(Object.keys(STATUS_BY_CODE).sort());
  });

  it('declares, for each error code, the status it maps to on POST /images', () => {
    const responses =
      (openApiDocument as unknown as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> }).paths['/images']?.[
        'post'
      ]?.responses ?? {};
    const missing = Object.entries(STATUS_BY_CODE)
      .filter(([code]) => code !== 'not_found' && code !== 'method_not_allowed')
      .filter(([, status]) => !(String(status) in responses));
    expect(missing).toEqual([]);
  });

  it('fails a response the document does not describe (the checks can fail)', () => {
    expect(() => checkContract('POST', '/images', { statusCode: 418, body: '{}' })).toThrow('status not declared');
    expect(() => checkContract('GET', '/images', { statusCode: 200, body: '{"data": []}' })).toThrow('body does not match');
    expect(() => checkContract('GET', '/nowhere', { statusCode: 200, body: '{}' })).toThrow('route missing');
    const image = JSON.stringify({ id: 'A'.repeat(22), status: 'running', model: 'gpt-image-2', createdAt: '2026-11-25T09:15:44.623Z' });
    expect(() =>
      checkContract('POST', '/images', { statusCode: 202, headers: { location: '/images/x', 'retry-after': '5' }, body: image }),
    ).toThrow('headers do not match');
    expect(() =>
      checkContract('POST', '/images', {
        statusCode: 202,
        headers: { location: `/images/${'A'.repeat(22)}` },
        body: image.replace('2026-11-25T', 'yesterday '),
      }),
    ).toThrow('body does not match');
    expect(() =>
      checkContract('POST', '/images', {
        statusCode: 400,
        body: JSON.stringify({ error: { code: 'made_up', message: 'x', requestId: 'r' } }),
      }),
    ).toThrow('body does not match');
  });
});

describe('openapi.yaml as a document', () => {
  it('is valid OpenAPI 3.1 (checked by @seriousme/openapi-schema-validator)', async () => {
    const { Validator } = await import('@seriousme/openapi-schema-validator');
    const result = await new Validator().validate(openApiDocument as unknown as Record<string, unknown>);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });
});

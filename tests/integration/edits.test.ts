import { describe, expect, it } from '@jest/globals';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { TRAINED_ALGORITHMIC_MEDIA } from '../../lib/domain/image-job.js';
import { readC2pa } from '../support/c2pa-reader.js';
import { OTHER_API_KEY, TEST_API_KEY } from '../support/env.js';
import { maskPng, pngOf } from '../support/fixtures.js';
import { httpEvent, lambdaContext } from '../support/lambda.js';
import { errorReply, type FormFile } from '../support/openai-test-server.js';
import { estimatedCost } from '../support/pricing.js';
import { useProviderStandIns, type Handler } from '../support/provider-stand-ins.js';

/**
 * Edits and reference images through the real handler: the caller's own images by id, uploads through a signed
 * form straight to the bucket (s3rver), each verified before a provider sees it, then OpenAI's images.edit
 * (multipart), Gemini's inline parts and Bedrock's image-to-image, each on its wire protocol.
 */

const PROMPT = 'make the sky purple';
const SOURCE = pngOf(64, 64, 'source');
const EDITED = pngOf(64, 64, 'edited');
const GEMINI = 'google/gemini-3-pro-image';
const SD35 = 'bedrock/stability.sd3-5-large-v1:0';
const CORE = 'bedrock/stability.stable-image-core-v1:1';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field
type Json = Record<string, any>;

const stand = useProviderStandIns(EDITED, 'edits');
const { servers } = stand;
/** The handler with a model of each kind of image input listed. */
const makeHandler = (env: Record<string, string> = {}): Handler =>
  stand.makeHandler({ IMAGE_MODELS: `gpt-image-2,${GEMINI},${SD35},${CORE}`, ...env });

const auth = (key = TEST_API_KEY) => ({ authorization: `Bearer ${key}` });
const post = (path: string, body: object, key = TEST_API_KEY): APIGatewayProxyEventV2 =>
  httpEvent({ path, body: JSON.stringify(body), headers: auth(key) });
const json = (response: APIGatewayProxyStructuredResultV2): Json => JSON.parse(response.body ?? '{}') as Json;

async function usage(): Promise<{ images: unknown; spend: unknown }> {
  const quota = (await servers.dynamo.items(servers.table)).find((item) => String(item['pk']).startsWith('quota#api-key:web-app#'));
  return { images: quota?.['images'], spend: quota?.['spendMicroUsd'] };
}

/** POST /uploads, then the form to the bucket as a browser or curl would (multipart/form-data, the file last). */
async function upload(handler: Handler, bytes: Buffer, contentType = 'image/png'): Promise<{ id: string; status: number; ticket: Json }> {
  const answer = await handler(post('/uploads', { contentType }), lambdaContext());
  expect(answer.statusCode).toBe(201);
  const ticket = json(answer);
  const form = new FormData();
  for (const [name, value] of Object.entries(ticket['fields'] as Record<string, string>)) form.append(name, value);
  form.append('file', new Blob([new Uint8Array(bytes)], { type: contentType }), 'upload');
  const sent = await fetch(ticket['url'] as string, { method: 'POST', body: form });
  return { id: ticket['id'] as string, status: sent.status, ticket };
}

const fileOf = (value: unknown): FormFile => (Array.isArray(value) ? value[0] : value) as FormFile;

describe("edits of the caller's own images", () => {
  it('edits one of its succeeded images through images.edit, sending exactly the stored bytes', async () => {
    const handler = makeHandler();
    const original = json(await handler(post('/images', { prompt: 'a lighthouse' }), lambdaContext()));
    const stored = (await servers.s3.get(original['key'] as string)).body;
    // Act
    const response = await handler(post('/images', { prompt: PROMPT, images: [{ id: original['id'] }] }), lambdaContext());
    // Assess
    expect(response.statusCode).toBe(201);
    const call = servers.openai.calls.at(-1);
    expect(call?.path).toBe('/v1/images/edits');
    // An edit is `auto` size by default, as OpenAI's images.edit is: the output follows the input's shape.
    expect(call?.body).toMatchObject({ model: 'gpt-image-2', n: '1', size: 'auto' });
    expect(String(call?.body['prompt'])).toContain(PROMPT);
    const sent = fileOf(call?.body['image'] ?? call?.body['image[]']);
    expect(sent.type).toBe('image/png');
    expect(sent.bytes.equals(stored)).toBe(true);
    expect((await servers.s3.get(json(response)['key'] as string)).body.equals(EDITED)).toBe(true);
    // The record names the input by its id, never its bytes.
    const records = (await servers.s3.keys()).filter((key) => key.startsWith('records/'));
    const record = JSON.parse((await servers.s3.get(records.at(-1) as string)).body.toString('utf8'));
    const edit = [record, JSON.parse((await servers.s3.get(records[0] as string)).body.toString('utf8'))].find((r) => r.inputs);
    expect(edit.inputs).toEqual({ images: [{ id: original['id'] }] });
  });

  it("signs an edit's result with its input image as an ingredient (CONTENT_CREDENTIALS=sign), read by the CAI's reader", async () => {
    const handler = makeHandler({ CONTENT_CREDENTIALS: 'sign' });
    const original = json(await handler(post('/images', { prompt: 'a lighthouse' }), lambdaContext()));
    expect(original['provenance']).toMatchObject({ manifest: 'service', valid: true });
    const response = await handler(post('/images', { prompt: PROMPT, images: [{ id: original['id'] }] }), lambdaContext());
    expect(response.statusCode).toBe(201);
    expect(json(response)['provenance']).toMatchObject({ manifest: 'service', valid: true, digitalSourceType: TRAINED_ALGORITHMIC_MEDIA });
    const stored = (await servers.s3.get(json(response)['key'] as string)).body;
    const report = await readC2pa(stored, 'image/png');
    expect(report.validationState).toBe('Valid');
    // The input, as the provider got it (the stored first image, with its own manifest), an input to the model.
    expect(report.active['ingredients']).toEqual([
      expect.objectContaining({ title: 'input-1', format: 'image/png', relationship: 'inputTo', active_manifest: expect.any(String) }),
    ]);
    const created = report.active['assertions'].find((a: { label: string }) => a.label === 'c2pa.actions.v2').data.actions[0];
    expect(created).toMatchObject({
      action: 'c2pa.created',
      digitalSourceType: TRAINED_ALGORITHMIC_MEDIA,
      softwareAgent: { name: 'gpt-image-2' },
    });
    expect(created.parameters.ingredients).toHaveLength(1);
  });

  it("answers another caller's image id with 404, exactly as GET does, before anything is spent", async () => {
    const handler = makeHandler();
    const theirs = json(await handler(post('/images', { prompt: 'their lighthouse' }, OTHER_API_KEY), lambdaContext()));
    const calls = servers.openai.calls.length;
    const response = await handler(post('/images', { prompt: PROMPT, images: [{ id: theirs['id'] }] }), lambdaContext());
    const get = await handler(httpEvent({ method: 'GET', path: `/images/${theirs['id'] as string}`, headers: auth() }), lambdaContext());
    expect(response.statusCode).toBe(404);
    expect(json(response)['error']['code']).toBe('not_found');
    expect(json(response)['error']['message']).toBe(json(get)['error']['message']);
    expect(servers.openai.calls).toHaveLength(calls);
    expect(await usage()).toEqual({ images: undefined, spend: undefined });
  });

  it('reserves the input images in the estimate: a possibly billed failure keeps it', async () => {
    const handler = makeHandler();
    const original = json(await handler(post('/images', { prompt: 'a lighthouse', quality: 'low' }), lambdaContext()));
    const before = (await usage()).spend as number;
    servers.openai.enqueue(errorReply(500, { type: 'server_error' }));
    const response = await handler(post('/images', { prompt: PROMPT, quality: 'low', images: [{ id: original['id'] }] }), lambdaContext());
    expect(response.statusCode).toBe(502);
    // The input image's 1,536 image tokens ($8/M) and 32 text tokens ($5/M), on top of the image at `auto` size (the
    // dearest size at low quality) and its text.
    expect(((await usage()).spend as number) - before).toBe(estimatedCost(PROMPT, 'low', 'auto') + 1_536 * 8 + 32 * 5);
  });
});

describe('uploads: a signed form straight to the bucket, verified before any provider sees it', () => {
  it("answers a form for one key under the caller's own folder, one content type, 1 byte to 8 MiB, 5 minutes", async () => {
    const handler = makeHandler();
    const response = await handler(post('/uploads', { contentType: 'image/webp' }), lambdaContext());
    expect(response.statusCode).toBe(201);
    const ticket = json(response);
    expect(ticket['fields']).toMatchObject({
      'Content-Type': 'image/webp',
      key: expect.stringMatching(new RegExp(`^uploads/[0-9a-f]{32}/${ticket['id']}$`)),
    });
    const policy = JSON.parse(Buffer.from(ticket['fields']['Policy'] as string, 'base64').toString('utf8'));
    expect(policy.conditions).toEqual(
      expect.arrayContaining([
        ['content-length-range', 1, 8 * 1024 * 1024],
        ['eq', '$Content-Type', 'image/webp'],
        { key: ticket['fields']['key'] },
        { bucket: servers.s3.bucket },
      ]),
    );
    const expiresIn = Date.parse(policy.expiration) - Date.now();
    expect(expiresIn).toBeGreaterThan(290_000);
    expect(expiresIn).toBeLessThanOrEqual(300_000);
    // Another caller's uploads live in another folder.
    const theirs = json(await handler(post('/uploads', { contentType: 'image/png' }, OTHER_API_KEY), lambdaContext()));
    expect(String(theirs['fields']['key']).split('/')[1]).not.toBe(String(ticket['fields']['key']).split('/')[1]);
  });

  it.each([
    [{}, '"contentType" must be one of "image/png", "image/jpeg", "image/webp".'],
    [{ contentType: 'image/gif' }, '"contentType" must be one of "image/png", "image/jpeg", "image/webp".'],
    [{ contentType: 'image/png', bytes: 5 }, '"bytes" is not a known field.'],
    [{ contentType: 'image/png', 'a\nb': 1 }, '"a?b" is not a known field.'],
  ])('refuses %j with 400 naming the field', async (body, message) => {
    const response = await makeHandler()(post('/uploads', body), lambdaContext());
    expect(response.statusCode).toBe(400);
    expect(json(response)['error']).toMatchObject({ code: 'invalid_request', message });
  });

  it('generates from an upload and a mask: images.edit gets the uploaded bytes and the mask', async () => {
    const handler = makeHandler();
    const image = await upload(handler, SOURCE);
    const mask = await upload(handler, maskPng(64, 64));
    expect([image.status, mask.status]).toEqual([204, 204]);
    const response = await handler(
      post('/images', { prompt: PROMPT, images: [{ upload: image.id }], mask: { upload: mask.id } }),
      lambdaContext(),
    );
    expect(response.statusCode).toBe(201);
    const call = servers.openai.calls.at(-1);
    expect(fileOf(call?.body['image'] ?? call?.body['image[]']).bytes.equals(SOURCE)).toBe(true);
    expect(fileOf(call?.body['mask']).bytes.equals(maskPng(64, 64))).toBe(true);
  });

  it.each<[string, () => Buffer, string, unknown]>([
    // Its header is fine: admission reserves, and the worker, reading the whole file, gives the reservation back.
    ['a truncated PNG', () => SOURCE.subarray(0, SOURCE.length - 30), '"images[0]" is not a complete PNG, JPEG or WebP image.', 0],
    // Its header says it: refused at admission, before anything is reserved.
    ['an image of 8 pixels a side', () => pngOf(8, 8), '"images[0]" must be 16 to 4096 pixels on each side (it is 8x8).', undefined],
  ])('refuses %s with 400, billing nothing and calling no provider', async (_name, bytes, message, counted) => {
    const handler = makeHandler();
    const sent = await upload(handler, bytes());
    const response = await handler(post('/images', { prompt: PROMPT, images: [{ upload: sent.id }] }), lambdaContext());
    expect(response.statusCode).toBe(400);
    expect(json(response)['error']).toMatchObject({ code: 'invalid_request', message });
    expect(servers.openai.calls).toHaveLength(0);
    expect(await usage()).toEqual({ images: counted, spend: counted });
  });

  it('refuses an upload that was never sent, and a mask without transparency or of another size', async () => {
    const handler = makeHandler();
    const image = await upload(handler, SOURCE);
    const opaque = await upload(handler, pngOf(64, 64, 'opaque'));
    const small = await upload(handler, maskPng(32, 32));
    const cases: [object, string][] = [
      [
        { images: [{ upload: 'AAAAAAAAAAAAAAAAAAAAAA' }] },
        '"images[0]" names no upload: it was never completed, or has expired (uploads are kept one day).',
      ],
      [{ images: [{ upload: image.id }], mask: { upload: opaque.id } }, '"mask" must be a PNG with transparency (where to edit).'],
      [{ images: [{ upload: image.id }], mask: { upload: small.id } }, '"mask" must be the size of the first image (64x64; it is 32x32).'],
    ];
    for (const [body, message] of cases) {
      const response = await handler(post('/images', { prompt: PROMPT, ...body }), lambdaContext());
      expect([response.statusCode, json(response)['error']['message']]).toEqual([400, message]);
    }
    expect(servers.openai.calls).toHaveLength(0);
  });
});

describe('references on the other providers', () => {
  it('sends Gemini the images as inline parts after the text', async () => {
    const handler = makeHandler();
    const image = await upload(handler, SOURCE);
    const response = await handler(post('/images', { prompt: PROMPT, model: GEMINI, images: [{ upload: image.id }] }), lambdaContext());
    expect(response.statusCode).toBe(201);
    expect(servers.gemini.calls).toHaveLength(1);
    const parts = (servers.gemini.calls[0]?.body ?? {}) as Json;
    const [text, inline] = parts['contents'][0]['parts'];
    expect(text['text']).toContain(PROMPT);
    expect(inline).toEqual({ inlineData: { mimeType: 'image/png', data: SOURCE.toString('base64') } });
  });

  it("uses SD3.5 Large's image-to-image mode on Bedrock", async () => {
    const handler = makeHandler();
    const image = await upload(handler, SOURCE);
    const response = await handler(post('/images', { prompt: PROMPT, model: SD35, images: [{ upload: image.id }] }), lambdaContext());
    expect(response.statusCode).toBe(201);
    expect(servers.bedrock.calls[0]?.body).toMatchObject({ mode: 'image-to-image', image: SOURCE.toString('base64'), strength: 0.6 });
    expect(servers.bedrock.calls[0]?.body).not.toHaveProperty('aspect_ratio');
  });

  it.each([
    [
      { model: CORE, images: [{ upload: 'AAAAAAAAAAAAAAAAAAAAAA' }] },
      `"images" is not supported by model ${CORE}: it takes no input image.`,
    ],
    [
      { model: SD35, images: [{ upload: 'AAAAAAAAAAAAAAAAAAAAAA' }, { upload: 'BBBBBBBBBBBBBBBBBBBBBB' }] },
      `"images" must have at most 1 for model ${SD35}.`,
    ],
    [
      { model: GEMINI, images: [{ upload: 'AAAAAAAAAAAAAAAAAAAAAA' }], mask: { upload: 'BBBBBBBBBBBBBBBBBBBBBB' } },
      `"mask" is not supported by model ${GEMINI}.`,
    ],
    [
      { images: [{ url: 'https://example.com/a.png' }] },
      '"images[0]" must be {"id": "<one of your image ids>"} or {"upload": "<an upload id from POST /uploads>"}.',
    ],
    [{ images: [] }, '"images" must be a list of 1 to 4 images.'],
    [{ mask: { upload: 'AAAAAAAAAAAAAAAAAAAAAA' } }, '"mask" needs "images": it marks the areas of the first one to change.'],
  ])('refuses %j with 400 before anything is spent', async (body, message) => {
    const response = await makeHandler()(post('/images', { prompt: PROMPT, ...body }), lambdaContext());
    expect(response.statusCode).toBe(400);
    expect(json(response)['error']['message']).toBe(message);
    expect([servers.openai.calls.length, servers.gemini.calls.length, servers.bedrock.calls.length]).toEqual([0, 0, 0]);
  });
});

describe('Idempotency-Key over edits', () => {
  it('binds the key to every field that changes the work: other images, another mask or previews are 422', async () => {
    // Prepare: two uploads and one edit under a key.
    const handler = makeHandler();
    const first = await upload(handler, SOURCE);
    const second = await upload(handler, pngOf(64, 64, 'second'));
    const keyed = (body: object) =>
      httpEvent({
        path: '/images',
        body: JSON.stringify({ prompt: PROMPT, ...body }),
        headers: { ...auth(), 'idempotency-key': 'edit-1' },
      });
    const original = await handler(keyed({ images: [{ upload: first.id }] }), lambdaContext());
    expect(original.statusCode).toBe(201);
    // Act
    const replay = await handler(keyed({ images: [{ upload: first.id }] }), lambdaContext());
    const otherImages = await handler(keyed({ images: [{ upload: second.id }] }), lambdaContext());
    const withMask = await handler(keyed({ images: [{ upload: first.id }], mask: { upload: second.id } }), lambdaContext());
    const withPreviews = await handler(keyed({ images: [{ upload: first.id }], previews: 1 }), lambdaContext());
    // Assess: the replay names the same image; every other body is refused, and only one edit was ever sent.
    expect(json(replay)['id']).toBe(json(original)['id']);
    for (const response of [otherImages, withMask, withPreviews]) {
      expect(response.statusCode).toBe(422);
      expect(json(response)['error']['code']).toBe('idempotency_key_reused');
    }
    expect(servers.openai.calls.filter((call) => call.path === '/v1/images/edits')).toHaveLength(1);
  });
});

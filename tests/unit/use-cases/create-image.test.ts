import { describe, expect, it } from '@jest/globals';
import { InlineJobDispatcher } from '../../../lib/adapters/in-process/inline-job-dispatcher.js';
import { LEASE_MARGIN_MS } from '../../../lib/domain/image-job.js';
import { AppError } from '../../../lib/errors.js';
import { makeCreateImage, type CreateImageInput } from '../../../lib/use-cases/create-image.js';
import type { JobDispatcher } from '../../../lib/ports.js';
import { inMemoryPorts, providerFailure } from '../../support/in-memory-ports.js';

/**
 * POST /images' use case against in-memory ports: the order of admission (webhook target, quota, moderation, all
 * before any money is spent), and the give-back rule: a reservation goes back exactly when the provider certainly
 * did not generate.
 */

function setUp(options: Parameters<typeof inMemoryPorts>[0] & { dispatcher?: JobDispatcher; moderationFailOpen?: boolean } = {}) {
  const ports = inMemoryPorts(options);
  let ids = 0;
  const newId = () => {
    ids += 1;
    return `id-${String(ids).padStart(19, '0')}`;
  };
  const run = ports.runner(newId);
  const dispatcher =
    options.dispatcher ??
    new InlineJobDispatcher(
      (id, deadline, claimed) => run(id, { deadline, leaseUntil: deadline + LEASE_MARGIN_MS, webhookReserveMs: 0 }, claimed),
      ports.log,
    );
  const create = makeCreateImage({
    store: ports.store,
    jobs: ports.jobs,
    log: ports.log,
    now: ports.now,
    dispatcher,
    quota: ports.quota,
    moderator: ports.moderator,
    moderationFailOpen: options.moderationFailOpen ?? false,
    webhooks: ports.webhooks,
    deploymentSignsWebhooks: true,
    estimateCost: () => 40_000,
    newId,
    sleep: async (ms) => ports.advance(ms),
  });
  const input = (fields: Partial<CreateImageInput> = {}): CreateImageInput => ({
    requestId: 'req-1',
    principal: { id: 'web', kind: 'api-key' },
    prompt: 'a red fox',
    providerPrompt: 'Draw: "a red fox"',
    model: 'gpt-image-2',
    size: '1024x1024',
    quality: 'low',
    format: undefined,
    deadline: ports.now() + 29_000,
    waitUntil: ports.now() + 25_000,
    ...fields,
  });
  return { ...ports, create, input };
}

const refusal = (code: 'invalid_request' | 'quota_exceeded' | 'moderation_unavailable') => () =>
  Promise.reject(new AppError(code, 'refused'));

describe('create-image: admission, in order, before any money is spent', () => {
  it.each([
    {
      case: 'everything passes',
      options: {},
      outcome: 'succeeded',
      events: ['checkWebhook', 'reserve', 'moderate', 'generate', 'putImage', 'putRecord', 'settle -10000', 'deliver'],
    },
    {
      case: 'the webhook target is refused',
      options: { checkWebhook: refusal('invalid_request') },
      outcome: 'invalid_request',
      // Nothing reserved, nothing moderated, no job.
      events: ['checkWebhook'],
    },
    {
      case: 'the quota refuses',
      options: { reserve: refusal('quota_exceeded') },
      outcome: 'quota_exceeded',
      // Over-quota callers do not spend the moderation rate limit.
      events: ['checkWebhook', 'reserve'],
    },
    {
      case: 'moderation flags the prompt',
      options: { moderate: async () => ({ flagged: true, categories: ['violence'] }) },
      outcome: 'content_policy_violation',
      events: ['checkWebhook', 'reserve', 'moderate', 'release 40000'],
    },
    {
      case: 'moderation cannot answer (fail-closed)',
      options: { moderate: refusal('moderation_unavailable') },
      outcome: 'moderation_unavailable',
      events: ['checkWebhook', 'reserve', 'moderate', 'release 40000'],
    },
    {
      case: 'moderation cannot answer (fail-open)',
      options: { moderate: refusal('moderation_unavailable'), moderationFailOpen: true },
      outcome: 'succeeded',
      events: ['checkWebhook', 'reserve', 'moderate', 'generate', 'putImage', 'putRecord', 'settle -10000', 'deliver'],
    },
    {
      case: 'the provider is busy (certainly not billed)',
      options: { generate: () => Promise.reject(providerFailure('provider_busy', false)) },
      outcome: 'provider_busy',
      events: ['checkWebhook', 'reserve', 'moderate', 'generate', 'release 40000', 'deliver'],
    },
    {
      case: 'the provider timed out after the request was sent (may have billed)',
      options: { generate: () => Promise.reject(providerFailure('provider_timeout', true)) },
      outcome: 'provider_timeout',
      // The estimate is kept as spend ("settle 0"): not given back.
      events: ['checkWebhook', 'reserve', 'moderate', 'generate', 'settle 0', 'deliver'],
    },
  ])('$case -> $outcome', async ({ options, outcome, events }) => {
    const t = setUp(options);
    // Act
    const result = await t.create(t.input({ webhook: 'https://hooks.example.com/images' })).then(
      (created) => created.job.status,
      (error: unknown) => (error instanceof AppError ? error.code : String(error)),
    );
    // Assess
    expect(result).toBe(outcome);
    expect(t.events).toEqual(events);
  });

  it('a job that could not be written: the reservation goes back, and nothing is dispatched', async () => {
    const t = setUp();
    t.jobs.create = () => Promise.reject(new AppError('state_unavailable', 'down'));
    await expect(t.create(t.input())).rejects.toMatchObject({ code: 'state_unavailable' });
    expect(t.events).toEqual(['reserve', 'moderate', 'release 40000']);
    expect(t.jobs.size).toBe(0);
  });

  it('a worker that could not be started: the job is ended queue_unavailable and the reservation goes back', async () => {
    const failing: JobDispatcher = { background: true, dispatch: () => Promise.reject(new AppError('queue_unavailable', 'down')) };
    const t = setUp({ dispatcher: failing });
    await expect(t.create(t.input())).rejects.toMatchObject({ code: 'queue_unavailable' });
    const [job] = (await t.jobs.list('api-key:web', 10, undefined)).jobs;
    expect(job).toMatchObject({ status: 'failed', error: { code: 'queue_unavailable' } });
    expect(t.events).toEqual(['reserve', 'moderate', 'release 40000']);
  });

  it('a background worker that has not finished by the wait: answered with the job as it stands, nothing given back', async () => {
    const later: JobDispatcher = { background: true, dispatch: async () => undefined };
    const t = setUp({ dispatcher: later });
    const created = await t.create(t.input());
    expect(created.job.status).toBe('queued');
    expect(t.events).toEqual(['reserve', 'moderate']);
  });
});

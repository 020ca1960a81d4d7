import { describe, expect, it } from '@jest/globals';
import { INTERRUPTED, NOT_ADMITTED, type ImageJob } from '../../../lib/domain/image-job.js';
import { JobBusyError } from '../../../lib/use-cases/run-image-job.js';
import { imageJob } from '../../support/builders.js';
import { inMemoryPorts, providerFailure } from '../../support/in-memory-ports.js';

/**
 * The worker's use case, state by state, against in-memory ports: what a delivery of `{ id }` does to a job in each
 * state it can find it in, which calls it makes (and does not make), and what it does with the money.
 */

const RESERVATION = { principalKey: 'api-key:web', day: '2026-11-30', costMicroUsd: 40_000, spendLimitMicroUsd: 5_000_000 };
const MINUTE = 60_000;

function setUp(options: Parameters<typeof inMemoryPorts>[0] = {}) {
  const ports = inMemoryPorts(options);
  const run = ports.runner(() => 'claim-of-this-run');
  const budget = () => ({ deadline: ports.now() + 6 * MINUTE, leaseUntil: ports.now() + 7 * MINUTE, webhookReserveMs: 0 });
  const job = (fields: Partial<ImageJob>): ImageJob =>
    imageJob({ owner: 'api-key:web', principalId: 'web', reservation: RESERVATION, createdAt: ports.now() - MINUTE, ...fields });
  return { ...ports, run, budget, job };
}

describe('run-image-job: what a delivery does in each state of the job', () => {
  it.each([
    {
      state: 'queued, with its reservation',
      job: {},
      status: 'succeeded',
      // Generated, verified, both objects written, the spend settled to the reported usage (10,000 less).
      events: ['generate', 'putImage', 'putRecord', 'settle -10000'],
    },
    {
      state: 'queued without a reservation (never admitted)',
      job: { reservation: undefined },
      status: 'failed',
      error: NOT_ADMITTED.code,
      events: [],
    },
    {
      state: 'running under a lease that ran out (its worker died)',
      job: { status: 'running' as const, claim: 'dead-worker', leaseUntil: Date.UTC(2026, 10, 30, 11, 59) },
      status: 'failed',
      error: INTERRUPTED.code,
      // Not generated again, and the reservation is kept, as spend: the dead worker's call may have been billed.
      events: ['settle 0'],
    },
    {
      state: "running under a live lease that ends within this run's budget",
      job: { status: 'running' as const, claim: 'other-worker', leaseUntil: Date.UTC(2026, 10, 30, 12, 2) },
      status: 'failed',
      error: INTERRUPTED.code,
      // It waits the lease out; the other worker never finished, so the job is ended without a second call.
      events: ['settle 0'],
    },
    {
      state: 'succeeded',
      job: { status: 'succeeded' as const, prompt: undefined, providerPrompt: undefined },
      status: 'succeeded',
      events: [],
    },
    {
      state: 'failed',
      job: { status: 'failed' as const, error: { code: 'provider_busy' as const, message: 'busy' } },
      status: 'failed',
      error: 'provider_busy',
      events: [],
    },
  ])('$state -> $status, calls: $events', async ({ job: fields, status, error, events }) => {
    const t = setUp();
    await t.jobs.create(t.job(fields));
    // Act
    await t.run('AAAAAAAAAAAAAAAAAAAAAA', t.budget());
    // Assess
    const after = await t.jobs.get('AAAAAAAAAAAAAAAAAAAAAA');
    expect(after?.status).toBe(status);
    if (error) expect(after?.error?.code).toBe(error);
    expect(t.events).toEqual(events);
  });

  it('running under a live lease that outlasts this run: JobBusyError (the platform retries later), nothing called', async () => {
    const t = setUp();
    await t.jobs.create(t.job({ status: 'running', claim: 'other-worker', leaseUntil: t.now() + 30 * MINUTE }));
    await expect(t.run('AAAAAAAAAAAAAAAAAAAAAA', t.budget())).rejects.toBeInstanceOf(JobBusyError);
    expect((await t.jobs.get('AAAAAAAAAAAAAAAAAAAAAA'))?.status).toBe('running');
    expect(t.events).toEqual([]);
  });

  it('deleted while its worker was away: the tombstone is removed once its lease ran out, kept while it holds', async () => {
    const t = setUp();
    await t.jobs.create(t.job({ id: 'BBBBBBBBBBBBBBBBBBBBBB', status: 'deleted', leaseUntil: t.now() - 1 }));
    await t.jobs.create(t.job({ id: 'CCCCCCCCCCCCCCCCCCCCCC', status: 'deleted', leaseUntil: t.now() + MINUTE }));
    await t.run('BBBBBBBBBBBBBBBBBBBBBB', t.budget());
    await t.run('CCCCCCCCCCCCCCCCCCCCCC', t.budget());
    expect(await t.jobs.get('BBBBBBBBBBBBBBBBBBBBBB')).toBeUndefined();
    expect((await t.jobs.get('CCCCCCCCCCCCCCCCCCCCCC'))?.status).toBe('deleted');
    expect(t.events).toEqual([]);
  });

  it('a job that is not there (deleted before it ran): nothing', async () => {
    const t = setUp();
    await expect(t.run('DDDDDDDDDDDDDDDDDDDDDD', t.budget())).resolves.toBeUndefined();
    expect(t.events).toEqual([]);
  });

  it('a second delivery of a job the first one finished generates nothing more', async () => {
    const t = setUp();
    await t.jobs.create(t.job({}));
    await t.run('AAAAAAAAAAAAAAAAAAAAAA', t.budget());
    await t.run('AAAAAAAAAAAAAAAAAAAAAA', t.budget());
    expect(t.events.filter((event) => event === 'generate')).toHaveLength(1);
  });
});

describe('run-image-job: the money rule when the provider fails', () => {
  it.each([
    { failure: 'provider_busy', billed: false, events: ['generate', 'release 40000'] },
    { failure: 'provider_error', billed: true, events: ['generate', 'settle 0'] },
    { failure: 'provider_timeout', billed: true, events: ['generate', 'settle 0'] },
  ] as const)(
    '$failure (may have billed: $billed) -> failed, reservation given back only if it did not bill',
    async ({ failure, billed, events }) => {
      const t = setUp({ generate: () => Promise.reject(providerFailure(failure, billed)) });
      await t.jobs.create(t.job({}));
      await t.run('AAAAAAAAAAAAAAAAAAAAAA', t.budget());
      const after = await t.jobs.get('AAAAAAAAAAAAAAAAAAAAAA');
      expect(after).toMatchObject({ status: 'failed', error: { code: failure } });
      expect(after?.prompt).toBeUndefined();
      expect(t.events).toEqual(events);
    },
  );

  it('an image the store refuses after the provider answered: failed, the reservation kept (it was billed)', async () => {
    const t = setUp({ putImage: () => Promise.reject(new Error('disk full')) });
    await t.jobs.create(t.job({}));
    await t.run('AAAAAAAAAAAAAAAAAAAAAA', t.budget());
    expect((await t.jobs.get('AAAAAAAAAAAAAAAAAAAAAA'))?.status).toBe('failed');
    expect(t.events.some((event) => event.startsWith('release'))).toBe(false);
  });

  it('too little time left to generate: failed provider_timeout before any call, and the reservation given back', async () => {
    const t = setUp();
    await t.jobs.create(t.job({}));
    await t.run('AAAAAAAAAAAAAAAAAAAAAA', { deadline: t.now() + 6_000, leaseUntil: t.now() + MINUTE, webhookReserveMs: 0 });
    expect(await t.jobs.get('AAAAAAAAAAAAAAAAAAAAAA')).toMatchObject({ status: 'failed', error: { code: 'provider_timeout' } });
    expect(t.events).toEqual(['release 40000']);
  });
});

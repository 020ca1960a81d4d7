import {
  isFinal,
  listKey,
  type ImageJob,
  type JobError,
  type JobStatus,
  type StoredImageResult,
  type StoredPreview,
} from '../../domain/image-job.js';
import type { JobStore } from '../../ports.js';

/**
 * The JobStore contract kept in this process's memory, with the same conditional transitions as the DynamoDB
 * store (a claim only from `queued`, an end only under the claim, a removal only in the status given). For a
 * deployment without a state table, where a job lives only as long as the request that runs it inline, and for the
 * use cases' table tests.
 *
 * It holds at most `maxJobs`: creating one more forgets the oldest finished job (a function instance serves one
 * request at a time, so its own request's job is never the one forgotten).
 */
export class MemoryJobStore implements JobStore {
  private readonly jobs = new Map<string, ImageJob>();

  constructor(private readonly maxJobs = Number.POSITIVE_INFINITY) {}

  async create(job: ImageJob): Promise<void> {
    if (this.jobs.has(job.id)) throw new Error(`job ${job.id} exists`);
    if (this.jobs.size >= this.maxJobs) {
      // Map order is insertion order: the first finished one found is the oldest.
      const oldest = [...this.jobs.values()].find((held) => isFinal(held.status)) ?? this.jobs.values().next().value;
      if (oldest) this.jobs.delete(oldest.id);
    }
    this.jobs.set(job.id, { ...job });
  }

  async get(id: string): Promise<ImageJob | undefined> {
    const job = this.jobs.get(id);
    return job && { ...job };
  }

  async claim(id: string, claim: string, leaseUntil: number, now: number): Promise<boolean> {
    return this.update(id, (job) => job.status === 'queued', { status: 'running', claim, leaseUntil, startedAt: now });
  }

  async succeed(id: string, claim: string, result: StoredImageResult, now: number): Promise<boolean> {
    return this.update(id, (job) => job.status === 'running' && job.claim === claim, {
      status: 'succeeded',
      result,
      completedAt: now,
      prompt: undefined,
      providerPrompt: undefined,
      leaseUntil: undefined,
    });
  }

  async fail(
    id: string,
    from: { status: 'queued' | 'running'; claim?: string | undefined },
    error: JobError,
    now: number,
  ): Promise<boolean> {
    const byClaim = from.status === 'running' && from.claim !== undefined;
    return this.update(id, (job) => job.status === from.status && (!byClaim || job.claim === from.claim), {
      status: 'failed',
      error,
      completedAt: now,
      prompt: undefined,
      providerPrompt: undefined,
      leaseUntil: undefined,
    });
  }

  async setWebhookState(id: string, state: 'delivered' | 'failed'): Promise<void> {
    this.update(id, () => true, { webhookState: state });
  }

  async addPreview(id: string, claim: string, preview: StoredPreview): Promise<boolean> {
    const previewImages = [...(this.jobs.get(id)?.previewImages ?? []), preview];
    return this.update(id, (job) => job.status === 'running' && job.claim === claim, { previewImages });
  }

  async list(owner: string, limit: number, cursor: { id: string; listKey: string } | undefined) {
    const newestFirst = [...this.jobs.values()]
      .filter((job) => job.owner === owner && job.status !== 'deleted')
      .sort((a, b) => listKey(b.createdAt, b.id).localeCompare(listKey(a.createdAt, a.id)));
    const after = cursor ? newestFirst.filter((job) => listKey(job.createdAt, job.id) < cursor.listKey) : newestFirst;
    const page = after.slice(0, limit).map((job) => ({ ...job }));
    const last = page[page.length - 1];
    return { jobs: page, next: after.length > limit && last ? { id: last.id, listKey: listKey(last.createdAt, last.id) } : undefined };
  }

  async remove(id: string, status: JobStatus): Promise<boolean> {
    if (this.jobs.get(id)?.status !== status) return false;
    return this.jobs.delete(id);
  }

  async markDeleted(id: string, claim: string | undefined, _expiresAt: number): Promise<boolean> {
    return this.update(id, (job) => job.status === 'running' && (claim === undefined || job.claim === claim), {
      status: 'deleted',
      owner: '',
      prompt: undefined,
      providerPrompt: undefined,
    });
  }

  /** How many jobs it holds (a deployment without a state table drops each job when its request ends). */
  get size(): number {
    return this.jobs.size;
  }

  private update(id: string, condition: (job: ImageJob) => boolean, change: Partial<ImageJob>): boolean {
    const job = this.jobs.get(id);
    if (!job || !condition(job)) return false;
    this.jobs.set(id, { ...job, ...change });
    return true;
  }
}

import type { ImageJob } from '../../domain/image-job.js';
import type { JobDispatcher, Log } from '../../ports.js';

/**
 * No worker function configured (`serverless invoke local`, a single-function deployment): the job runs right
 * here, within the request's own deadline, exactly like the synchronous service. Its outcome is in the job;
 * an unexpected failure is logged, and the job's lease then ends it as `failed`.
 */
export class InlineJobDispatcher implements JobDispatcher {
  readonly background = false;

  constructor(
    private readonly run: (id: string, deadline: number, claimed?: ImageJob) => Promise<ImageJob | undefined>,
    private readonly log: Log,
  ) {}

  async dispatch(id: string, deadline: number, claimed?: ImageJob): Promise<ImageJob | undefined> {
    try {
      return await this.run(id, deadline, claimed);
    } catch (error) {
      this.log.error('inline job failed unexpectedly', { imageId: id, errorName: error instanceof Error ? error.name : 'unknown' });
      return undefined;
    }
  }
}

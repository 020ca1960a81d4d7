import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Context } from 'aws-lambda';
import { createUseCases, type Dependencies, type UseCases } from '../composition-root.js';
import { LEASE_MARGIN_MS } from '../domain/image-job.js';

export interface RunImageJobEvent {
  id?: unknown;
}

/** Kept back from the function's own timeout: a run ends (and logs) before Lambda kills it. */
const END_MARGIN_MS = 2_000;

/**
 * The worker function: wiring only. Its budget is its own remaining time (the function's timeout fits the
 * slowest generation plus storage and the webhook); its claim on a job lasts longer than it can live, so a
 * job it leaves behind is recognisably abandoned. An error it throws makes Lambda retry the event, which is
 * safe: the job's state decides what a retry does (never a second provider call).
 */
export function createWorkerHandler(deps: Dependencies, useCases: UseCases = createUseCases(deps)) {
  const { logger, config } = deps;
  const runImageJob = async (event: RunImageJobEvent, context: Context): Promise<{ id: string } | { ignored: string }> => {
    deps.metrics.coldStart?.(context.functionName);
    const id = event?.id;
    if (typeof id !== 'string' || !/^[A-Za-z0-9_-]{22}$/.test(id)) {
      logger.error('worker event without a valid image id: ignored');
      return { ignored: 'invalid event' };
    }
    if (!useCases.images.resources) {
      logger.error('worker started without a state table: ignored', { imageId: id });
      return { ignored: 'no state table' };
    }
    logger.appendKeys({ imageId: id });
    const now = deps.now();
    const remaining = context.getRemainingTimeInMillis();
    await useCases.images.run(id, {
      deadline: now + remaining - END_MARGIN_MS,
      leaseUntil: now + remaining + LEASE_MARGIN_MS,
      webhookReserveMs: Math.min(config.jobs?.webhookReserveMs ?? 0, Math.floor(remaining / 4)),
    });
    return { id };
  };
  return middy<RunImageJobEvent, { id: string } | { ignored: string }>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .handler(runImageJob);
}

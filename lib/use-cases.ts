import type { Dependencies } from './clients.js';
import { InlineJobDispatcher } from './adapters/in-process/inline-job-dispatcher.js';
import { createGenerateImage } from './generate-image.js';
import { createCreateImage } from './images/create-image.js';
import { createDeleteImage } from './images/delete-image.js';
import { createGetImage } from './images/get-image.js';
import { createListImages } from './images/list-images.js';
import { createRunImageJob } from './images/run-image-job.js';
import type { ImagePipelineDeps } from './image-pipeline.js';

export { LEASE_MARGIN_MS } from './domain/image-job.js';
import { LEASE_MARGIN_MS } from './domain/image-job.js';

/**
 * The use cases (one per verb) wired to the ports of the composition root. Shared by the API and the worker
 * handler, so both run the same code; only their budgets differ.
 */
export function createUseCases(deps: Dependencies) {
  const { config, logger } = deps;
  const pipeline: ImagePipelineDeps = {
    generator: deps.generator,
    store: deps.store,
    log: logger,
    publicBaseUrl: config.publicBaseUrl,
    imagePrefix: config.imagePrefix,
    recordPrefix: config.recordPrefix,
    maxImageBytes: config.limits.maxImageBytes,
    now: deps.now,
    metrics: deps.metrics,
    providerName: config.provider.kind,
    settleCost: deps.settleCost,
  };
  const admission = {
    quota: deps.quota,
    moderator: deps.moderator,
    moderationFailOpen: config.moderation.mode === 'fail-open',
    idempotency: deps.idempotency,
    estimateCost: deps.estimateCost,
    newId: deps.newId,
  };
  const generateImage = createGenerateImage({
    ...pipeline,
    ...admission,
    uploadReserveMs: config.limits.uploadReserveMs,
    minProviderTimeMs: config.limits.minProviderTimeMs,
  });

  const jobs = deps.jobs;
  if (!jobs) return { generateImage, images: undefined };

  const runImageJob = createRunImageJob({
    ...pipeline,
    jobs,
    quota: deps.quota,
    webhooks: deps.webhooks,
    uploadReserveMs: config.limits.uploadReserveMs,
    minProviderTimeMs: config.limits.minProviderTimeMs,
    webhookMaxDeliveryMs: config.webhooks.maxDeliveryMs,
    newId: deps.newId,
  });
  // No worker function: the job runs inline, in the request's own time, with nothing kept back for a webhook
  // beyond what is left at the end.
  const dispatcher =
    deps.dispatcher ??
    new InlineJobDispatcher(
      (id, deadline, claimed) => runImageJob(id, { deadline, leaseUntil: deadline + LEASE_MARGIN_MS, webhookReserveMs: 0 }, claimed),
      logger,
    );
  const read = { jobs, log: logger, now: deps.now, dispatcher, quota: deps.quota };
  return {
    generateImage,
    images: {
      dispatcher,
      create: createCreateImage({ ...read, ...admission, webhooks: deps.webhooks }),
      run: runImageJob,
      get: createGetImage(read),
      list: createListImages(read),
      delete: createDeleteImage({ ...read, store: deps.store, cdn: deps.cdn }),
    },
  };
}

export type UseCases = ReturnType<typeof createUseCases>;

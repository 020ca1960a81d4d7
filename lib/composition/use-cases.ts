/** The use cases of the composition root (one per verb), wired to its ports. */
import type { Dependencies } from '../composition-root.js';
import { issuedPrefixOf } from '../domain/api-keys.js';
import type { ApiKeyStore } from '../ports.js';
import { InlineJobDispatcher } from '../adapters/in-process/inline-job-dispatcher.js';
import { MemoryJobStore } from '../adapters/in-process/memory-job-store.js';
import { LEASE_MARGIN_MS } from '../domain/image-job.js';
import { ProviderBreaker } from '../domain/provider-breaker.js';
import { makeCreateImage } from '../use-cases/create-image.js';
import { makeCreateUpload, makeStoreUploads } from '../use-cases/create-upload.js';
import { makeDeleteImage } from '../use-cases/delete-image.js';
import { makeFollowImage } from '../use-cases/follow-image.js';
import { makeIssuedKeyLookup } from '../use-cases/issued-keys.js';
import type { GenerateAndStoreDeps } from '../use-cases/generate-and-store.js';
import { makeGetImage } from '../use-cases/get-image.js';
import { makeGetUsage } from '../use-cases/get-usage.js';
import { makeListImages } from '../use-cases/list-images.js';
import { makeReadImage } from '../use-cases/read-image.js';
import { makeRunImageJob } from '../use-cases/run-image-job.js';

/**
 * Jobs a deployment without a state table keeps in memory: each lives only while its request runs it inline, and a
 * function instance serves one request at a time; the bound is a guard, not a cache.
 */
const STATELESS_JOBS_HELD = 16;

/**
 * The use cases (one per verb) wired to the ports of the composition root. Shared by the API and the worker
 * handler, so both run the same code; only their budgets differ.
 *
 * Without a state table there is one POST /images path all the same: its jobs are kept in memory and run inline,
 * within the request; `resources` is then false, and the routes that read resources later answer that they are
 * not kept.
 */
/** The owner's own webhook secret when it is an issued key that has one. */
const webhookSecretOf =
  (keys: ApiKeyStore) =>
  async (owner: string): Promise<string | undefined> => {
    const prefix = issuedPrefixOf(owner);
    return prefix === undefined ? undefined : (await keys.get(prefix))?.webhookSecret;
  };

export function createUseCases(deps: Dependencies) {
  const { config, logger } = deps;
  const pipeline: GenerateAndStoreDeps = {
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
    provenance: deps.provenance,
    provenanceSigner: deps.provenanceSigner,
    // Fallbacks and their circuit breaker: one breaker per function instance (this composition runs once in it).
    fallbacks: config.fallbacks,
    breaker: config.fallbacks.size > 0 ? new ProviderBreaker(config.breaker, deps.now) : undefined,
    quota: deps.quota,
    estimateCost: deps.estimateCost,
    minProviderTimeMs: config.limits.minProviderTimeMs,
  };
  const admission = {
    quota: deps.quota,
    moderator: deps.moderator,
    moderationFailOpen: config.moderation.mode === 'fail-open',
    idempotency: deps.idempotency,
    estimateCost: deps.estimateCost,
    newId: deps.newId,
  };
  const resources = deps.jobs !== undefined;
  const jobs = deps.jobs ?? new MemoryJobStore(STATELESS_JOBS_HELD);

  const runImageJob = makeRunImageJob({
    ...pipeline,
    jobs,
    quota: deps.quota,
    webhooks: deps.webhooks,
    webhookSecretOf: deps.keyStore ? webhookSecretOf(deps.keyStore) : undefined,
    uploadReserveMs: config.limits.uploadReserveMs,
    minProviderTimeMs: config.limits.minProviderTimeMs,
    webhookMaxDeliveryMs: config.webhooks.maxDeliveryMs,
    newId: deps.newId,
  });
  // No worker function (or no state it could share): the job runs inline, in the request's own time, with nothing
  // kept back for a webhook beyond what is left at the end.
  const dispatcher =
    (resources ? deps.dispatcher : undefined) ??
    new InlineJobDispatcher(
      (id, deadline, claimed) => runImageJob(id, { deadline, leaseUntil: deadline + LEASE_MARGIN_MS, webhookReserveMs: 0 }, claimed),
      logger,
    );
  const read = { jobs, log: logger, now: deps.now, dispatcher, quota: deps.quota };
  return {
    images: {
      resources,
      dispatcher,
      create: makeCreateImage({
        ...read,
        ...admission,
        store: deps.store,
        webhooks: deps.webhooks,
        deploymentSignsWebhooks: config.webhooks.secret !== undefined || config.webhooks.secretParameter !== undefined,
      }),
      run: runImageJob,
      get: makeGetImage(read),
      list: makeListImages(read),
      delete: makeDeleteImage({ ...read, store: deps.store, cdn: deps.cdn }),
      read: makeReadImage({ store: deps.store, log: logger }),
      follow: makeFollowImage({ ...read, store: deps.store }),
      usage: makeGetUsage({ quota: deps.quota, now: deps.now }),
    },
    keys: {
      /** Authenticates a key issued into the state table; undefined without one. */
      authenticate: deps.keyStore ? makeIssuedKeyLookup({ keys: deps.keyStore, now: deps.now, cacheMs: config.apiKeyCacheMs }) : undefined,
    },
    uploads: {
      create: makeCreateUpload({ uploads: deps.uploads, newId: deps.newId, now: deps.now, quota: deps.quota }),
      store: makeStoreUploads({ store: deps.store, now: deps.now, quota: deps.quota }),
    },
  };
}

export type UseCases = ReturnType<typeof createUseCases>;

import { toResource, type ImageResource } from '../domain/image-job.js';
import type { Principal } from '../ports.js';
import { notFound, ownJob, type JobReadDeps } from './job-reads.js';

/** `GET /images/{id}`: the caller's own image resource; 404 for anything else. */
export const makeGetImage =
  (deps: JobReadDeps) =>
  async (principal: Principal, id: string): Promise<ImageResource> => {
    const job = await ownJob(deps, principal, id);
    const resource = toResource(job, deps.now());
    if (!resource) throw notFound();
    return resource;
  };

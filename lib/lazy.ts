import diagnostics from 'node:diagnostics_channel';

/**
 * A value loaded on first use and kept: for modules only some deployments or some requests need (jose for JWTs,
 * webhooks, CDN invalidation, the Generate page, the OpenAPI document). Loaded with `import()`, the bundler keeps
 * such a module in a function of its own, so a cold start does not compile it (docs/performance.md). A failed
 * load is tried again on the next use.
 */
export function lazily<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | undefined;
  return () =>
    (loaded ??= load().catch((error: unknown) => {
      loaded = undefined;
      throw error;
    }));
}

/**
 * A port whose adapter is loaded on first use (lazily): each of `methods` loads it, then calls it. The one way the
 * composition root defers an adapter (webhooks, JWT verification, upload signing, CDN invalidation), so a port
 * added later is deferred the same way.
 *
 * @example lazyPort<TokenVerifier>(async () => new (await import('./jose-token-verifier.js')).JoseTokenVerifier(...), ['verify'])
 */
export function lazyPort<P extends object>(load: () => Promise<P>, methods: readonly (keyof P & string)[]): P {
  const adapter = lazily(load);
  const port: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
  for (const name of methods) {
    port[name] = async (...args) => {
      const loaded = await adapter();
      return (loaded[name] as (...args: unknown[]) => unknown).apply(loaded, args);
    };
  }
  // The methods listed are the port's (checked by `keyof P`); a port with others would be caught by its callers' types.
  return port as P;
}

/** Published by Node's HTTP client when a request is created: the AWS SDK's calls all go through it. */
const REQUEST_START = 'http.client.request.start';

/**
 * Returns a trigger that runs `work` once, while the first HTTP request made after the trigger waits
 * for its answer: for CPU the request needs later but not now, such as compiling a chunk reached by `import()`,
 * which Node does inside the call and which otherwise holds the request back until it is done. A request that
 * creates images pulls its trigger once it is authenticated and its body valid; `work` then runs while the quota's
 * and the idempotency record's round trips to DynamoDB are out.
 *
 * Two turns of the event loop after the request is created: in the first, a new connection is still being opened
 * (it completes in the next poll phase, which writes the request); in the second, the bytes are on the wire. Node
 * reports the request through `diagnostics_channel`, so no client needs to know about this. If no request follows
 * the trigger, `work` waits; whoever needs what it prepares loads it anyway.
 */
export function whileTheNextCallIsOut(work: () => void): () => void {
  let armed = false;
  const onRequest = (): void => {
    diagnostics.unsubscribe(REQUEST_START, onRequest);
    setImmediate(() => setImmediate(work));
  };
  return () => {
    if (armed) return;
    armed = true;
    diagnostics.subscribe(REQUEST_START, onRequest);
  };
}

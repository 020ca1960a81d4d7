/**
 * A circuit breaker per provider, kept in the function instance's memory: after `failures` unbilled failures in a
 * row a provider is skipped for `cooldownMs`, so that a provider that is down does not add its wait to every
 * request that has somewhere else to go. After the cool-down the next request tries it again (half-open): a
 * success closes it, another failure opens it for another cool-down. Only consulted where a fallback exists: a
 * model with nowhere else to go is always tried.
 *
 * Written here rather than taken from a library: opossum (the Node circuit breaker most used) wraps one function
 * per breaker and decides failure by its own timeout and error filter, while this needs one breaker per provider
 * across different calls, fed only with failures the money rule already classified; cockatiel's breaker is
 * closer but is a policy wrapper too. Neither is in the project, and the state here is a counter and a time.
 */
export class ProviderBreaker {
  private readonly state = new Map<string, { failures: number; openUntil: number }>();

  constructor(
    private readonly options: { failures: number; cooldownMs: number },
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether calls to this provider are skipped now. */
  isOpen(provider: string): boolean {
    return (this.state.get(provider)?.openUntil ?? 0) > this.now();
  }

  /** An unbilled failure (busy, unreachable): one more in a row; at the threshold the provider is skipped. */
  failed(provider: string): void {
    const current = this.state.get(provider) ?? { failures: 0, openUntil: 0 };
    const failures = current.failures + 1;
    const open = failures >= this.options.failures;
    // The count is kept past the threshold: after the cool-down, one more failure opens it again at once.
    this.state.set(provider, { failures, openUntil: open ? this.now() + this.options.cooldownMs : current.openUntil });
  }

  /** The provider answered (with an image, or anything that shows it is up): the count starts again. */
  succeeded(provider: string): void {
    this.state.delete(provider);
  }
}

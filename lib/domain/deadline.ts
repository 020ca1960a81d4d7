/**
 * The time a request has, as an absolute epoch-ms deadline: the earlier of the Lambda's own end and API
 * Gateway's integration timeout (HTTP API: 30 s at most, counted from when the gateway received the request).
 * Work past the gateway limit is wasted: the caller already got a 503 and the image would be billed for nobody.
 */
export function requestDeadline(options: {
  now: number;
  lambdaRemainingMs: number;
  gatewayReceivedAt: number | undefined;
  gatewayTimeoutMs: number;
}): number {
  const { now, lambdaRemainingMs, gatewayTimeoutMs } = options;
  let received = options.gatewayReceivedAt;
  // A sample event replayed with `invoke local` carries a timestamp from when it was written; an implausible one
  // (older than the gateway limit, or from the future) means there is no gateway clock to respect.
  if (received === undefined || !Number.isFinite(received) || received > now + 1_000 || now - received > gatewayTimeoutMs) {
    received = now;
  }
  return Math.min(now + lambdaRemainingMs, received + gatewayTimeoutMs);
}

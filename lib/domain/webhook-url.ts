/**
 * Which webhook targets are allowed (SSRF). A webhook makes our function send an HTTP request wherever the
 * caller says, from inside our network: it must never reach loopback, private networks, link-local addresses
 * (169.254.169.254 is the instance metadata service), or any range that is not globally routable.
 * ipaddr.js (the library behind Express' proxy-addr) classifies the ranges, including IPv4-mapped IPv6.
 */
import ipaddr from 'ipaddr.js';

export const MAX_WEBHOOK_URL_LENGTH = 2048;

export interface WebhookPolicy {
  /**
   * Also allow `http:` and loopback addresses (WEBHOOK_ALLOW_LOOPBACK=true): for a receiver on the developer's
   * own machine or in tests. Private networks, link-local and metadata addresses stay refused.
   */
  allowLoopback: boolean;
}

/** Why an address may not receive webhooks, or undefined when it may. */
export function addressProblem(address: string, policy: WebhookPolicy): string | undefined {
  if (!ipaddr.isValid(address)) return 'is not an IP address';
  const parsed = ipaddr.process(address); // IPv4-mapped IPv6 (::ffff:10.0.0.1) is judged as the IPv4 it is
  const range = parsed.range();
  if (range === 'unicast') return undefined;
  if (range === 'loopback' && policy.allowLoopback) return undefined;
  return `resolves to a ${range} address`;
}

/**
 * Checks what can be checked without DNS: an absolute https URL (http only with allowLoopback), no credentials,
 * a bounded length, and, for a literal IP host, the address itself. Names are resolved (and every address
 * checked) by the webhook adapter, at creation and again at delivery.
 *
 * @returns the problem as the end of a sentence starting with `"webhook" `, or undefined.
 */
export function webhookUrlProblem(value: string, policy: WebhookPolicy): string | undefined {
  if (value.length > MAX_WEBHOOK_URL_LENGTH) return `must be at most ${MAX_WEBHOOK_URL_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute https URL';
  }
  const httpAllowed = policy.allowLoopback && url.protocol === 'http:';
  if (url.protocol !== 'https:' && !httpAllowed) return 'must be an https URL';
  if (url.username !== '' || url.password !== '') return 'must not contain credentials';
  const host = hostOf(url);
  if (host === '' || host === 'localhost' || host.endsWith('.localhost')) {
    return policy.allowLoopback && host !== '' ? undefined : 'must not point to this machine';
  }
  if (ipaddr.isValid(host)) {
    const problem = addressProblem(host, policy);
    return problem === undefined ? undefined : `must not point to a non-public address (it ${problem})`;
  }
  return undefined;
}

/** The host of a URL without IPv6 brackets. */
export const hostOf = (url: URL): string => url.hostname.replace(/^\[|\]$/g, '').toLowerCase();

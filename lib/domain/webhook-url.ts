/**
 * Which webhook targets are allowed (SSRF). A webhook makes our function send an HTTP request wherever the
 * caller says, from inside our network: it must never reach loopback, private networks, link-local addresses
 * (169.254.169.254 is the instance metadata service), or any range that is not globally routable.
 *
 * The ranges are IANA's special-purpose address registries (IPv4 and IPv6, as of 2026-11), checked with Node's
 * own `net.BlockList`. Not ipaddr.js: it would add a library that every
 * cold start compiles, for a table and a prefix match that BlockList does natively (docs/performance.md).
 * IPv4-mapped IPv6 (`::ffff:10.0.0.1`) is judged as the IPv4 address it is.
 */
import { BlockList, isIP } from 'node:net';

const MAX_WEBHOOK_URL_LENGTH = 2048;

export interface WebhookPolicy {
  /**
   * Also allow `http:` and loopback addresses (WEBHOOK_ALLOW_LOOPBACK=true): for a receiver on the developer's
   * own machine or in tests. Private networks, link-local and metadata addresses stay refused.
   */
  allowLoopback: boolean;
}

type Range = [network: string, prefix: number, kind: string];

/** Not globally reachable, or not meant to receive traffic from us (IANA special-purpose registries). */
const IPV4_RANGES: Range[] = [
  ['0.0.0.0', 8, 'unspecified'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'carrier-grade NAT'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'reserved'],
  ['192.0.2.0', 24, 'reserved'],
  ['192.31.196.0', 24, 'AS112'],
  ['192.52.193.0', 24, 'AMT'],
  ['192.88.99.0', 24, 'reserved'],
  ['192.168.0.0', 16, 'private'],
  ['192.175.48.0', 24, 'AS112'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'reserved'],
  ['203.0.113.0', 24, 'reserved'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'],
];

const IPV6_RANGES: Range[] = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  // IPv4-compatible (deprecated) and IPv4-translated addresses carry an IPv4 address we would not check.
  ['::', 96, 'IPv4-compatible'],
  ['::ffff:0:0:0', 96, 'IPv4-translated'],
  ['64:ff9b::', 96, 'NAT64'],
  ['64:ff9b:1::', 48, 'NAT64'],
  ['100::', 64, 'discard'],
  ['2001::', 23, 'reserved'],
  ['2001:db8::', 32, 'reserved'],
  ['2002::', 16, '6to4'],
  ['3fff::', 20, 'reserved'],
  ['5f00::', 16, 'segment routing'],
  ['fc00::', 7, 'unique local'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'site-local'],
  ['ff00::', 8, 'multicast'],
];

let lists: { kind: string; list: BlockList; family: 'ipv4' | 'ipv6' }[] | undefined;

/** Built on first use: most requests carry no webhook. */
const rangeLists = () =>
  (lists ??= [...IPV4_RANGES.map((range) => [...range, 'ipv4'] as const), ...IPV6_RANGES.map((range) => [...range, 'ipv6'] as const)].map(
    ([network, prefix, kind, family]) => {
      const list = new BlockList();
      list.addSubnet(network, prefix, family);
      return { kind, list, family };
    },
  ));

/** The eight 16-bit groups of an IPv6 address (already known to be valid). */
function ipv6Groups(address: string): number[] {
  let text = address.toLowerCase().replace(/%.*$/, '');
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const part = (side: string): number[] => (side === '' ? [] : side.split(':').map((group) => parseInt(group, 16)));
  const left = part(head);
  const right = tail === undefined ? [] : part(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/** An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as its IPv4 address; any other address unchanged. */
function unmapped(address: string): { address: string; family: 'ipv4' | 'ipv6' } {
  if (isIP(address) === 4) return { address, family: 'ipv4' };
  const groups = ipv6Groups(address);
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    const [high = 0, low = 0] = groups.slice(6);
    return { address: [high >> 8, high & 255, low >> 8, low & 255].join('.'), family: 'ipv4' };
  }
  return { address, family: 'ipv6' };
}

/** Why an address may not receive webhooks, or undefined when it may. */
export function addressProblem(address: string, policy: WebhookPolicy): string | undefined {
  if (isIP(address) === 0) return 'is not an IP address';
  const checked = unmapped(address);
  const hit = rangeLists().find(({ list, family }) => family === checked.family && list.check(checked.address, family));
  if (!hit) return undefined;
  if (hit.kind === 'loopback' && policy.allowLoopback) return undefined;
  return `resolves to a ${hit.kind} address`;
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
  if (isIP(host) !== 0) {
    const problem = addressProblem(host, policy);
    return problem === undefined ? undefined : `must not point to a non-public address (it ${problem})`;
  }
  return undefined;
}

/** The host of a URL without IPv6 brackets. */
export const hostOf = (url: URL): string => url.hostname.replace(/^\[|\]$/g, '').toLowerCase();

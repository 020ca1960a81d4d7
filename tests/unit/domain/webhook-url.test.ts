import { describe, expect, it } from '@jest/globals';
import { addressProblem, webhookUrlProblem } from '../../../lib/domain/webhook-url.js';

const strict = { allowLoopback: false };
const local = { allowLoopback: true };

describe('addressProblem', () => {
  it.each(['93.184.216.34', '2606:4700:4700::1111', '8.8.8.8', '::ffff:8.8.8.8', '::ffff:808:808', '2a00:1450:4001:80b::200e'])(
    'allows the public address %s',
    (address) => {
      expect(addressProblem(address, strict)).toBeUndefined();
    },
  );

  it.each([
    '127.0.0.1',
    '127.8.9.10',
    '::1',
    '10.0.0.1',
    '172.16.5.4',
    '192.168.0.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '::',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
    'fd00:ec2::254',
    'fe80::1',
    '224.0.0.1',
    '255.255.255.255',
    '64:ff9b::a00:1',
    '::ffff:a00:1',
    '::ffff:7f00:1',
    '::7f00:1',
    '::127.0.0.1',
    '2002:a00:1::1',
    '2001:db8::1',
    'fec0::1',
    '198.18.0.1',
    '192.0.2.10',
    '240.0.0.1',
    'fe80::1%eth0',
    '0:0:0:0:0:ffff:169.254.169.254',
  ])('refuses %s', (address) => {
    expect(addressProblem(address, strict)).toBeDefined();
  });

  it('allows loopback only when told to, and never private or metadata addresses', () => {
    expect(addressProblem('127.0.0.1', local)).toBeUndefined();
    expect(addressProblem('::1', local)).toBeUndefined();
    expect(addressProblem('169.254.169.254', local)).toBeDefined();
    expect(addressProblem('10.0.0.1', local)).toBeDefined();
  });
});

describe('webhookUrlProblem', () => {
  it('accepts an https URL with a name or a public address', () => {
    expect(webhookUrlProblem('https://hooks.example.com/images?x=1', strict)).toBeUndefined();
    expect(webhookUrlProblem('https://93.184.216.34:8443/h', strict)).toBeUndefined();
  });

  it.each([
    ['http://hooks.example.com/', 'https'],
    ['ftp://hooks.example.com/', 'https'],
    ['https://u:p@hooks.example.com/', 'credentials'],
    ['https://localhost/', 'this machine'],
    ['https://app.localhost/', 'this machine'],
    ['https://[::1]/', 'non-public'],
    ['https://0x7f000001/', 'non-public'],
    [`https://hooks.example.com/${'a'.repeat(2100)}`, 'at most'],
  ])('refuses %s', (url, problem) => {
    expect(webhookUrlProblem(url, strict)).toContain(problem);
  });

  it('allows http and loopback for a local receiver when told to', () => {
    expect(webhookUrlProblem('http://127.0.0.1:8080/hook', local)).toBeUndefined();
    expect(webhookUrlProblem('http://localhost:8080/hook', local)).toBeUndefined();
    expect(webhookUrlProblem('http://10.0.0.2/hook', local)).toContain('non-public');
  });
});

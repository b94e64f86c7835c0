import type { LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestHttpServer, type TestHttpServer } from '../../dev/testHttpServer.js';
import { PermanentError } from '../../lib/errors.js';
import { connectLookup, nonPublicReason, type HostResolver } from '../../lib/jobs/addressLookup.js';
import { sendJson, undiciTransport } from '../../lib/jobs/http.js';

/** A resolver that answers from a table, counting its calls. */
function resolver(table: Record<string, string[]>): HostResolver & { calls: string[] } {
  const calls: string[] = [];
  const resolve = async (hostname: string): Promise<LookupAddress[]> => {
    calls.push(hostname);
    const addresses = table[hostname];
    if (addresses === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(resolve, { calls });
}

/** What net.connect gets from a lookup: the error, or the addresses. */
function look(lookup: LookupFunction, hostname: string, options: { all?: boolean; family?: number } = { all: true }) {
  return new Promise<{ error: Error | null; address: unknown; family?: number }>((resolve) => {
    lookup(hostname, options, (error, address, family) => resolve({ error, address, family }));
  });
}

describe('nonPublicReason', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['fc00::', 'private'],
    ['fd12:3456::1', 'private'],
    ['fec0::1', 'private'],
    ['169.254.169.254', 'cloud metadata'],
    ['169.254.170.2', 'cloud metadata'],
    ['fd00:ec2::254', 'cloud metadata'],
    ['100.100.100.200', 'cloud metadata'],
    ['169.254.1.1', 'link-local'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['192.0.2.10', 'reserved'],
    // IPv6 forms of IPv4 addresses are judged by the IPv4 address.
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:a00:1', 'private'],
    ['64:ff9b::169.254.169.254', 'cloud metadata'],
  ])('refuses %s (%s)', (address, reason) => {
    expect(nonPublicReason(address)).toBe(reason);
  });

  // Special-purpose ranges that ipaddr.js names (IANA's registries), each refused under its name.
  it.each([
    ['2001:2::1', 'benchmarking'], // RFC 5180
    ['2001:2:0:ffff::1', 'benchmarking'],
    ['2001:2:1::1', 'reserved'], // past benchmarking, still IETF protocol assignments (2001::/23)
    ['2001:1ff:ffff::1', 'reserved'],
    ['198.18.0.1', 'reserved'], // RFC 2544 benchmarking
    ['198.19.255.254', 'reserved'],
    ['100.64.0.1', 'carrier-grade NAT'], // RFC 6598
    ['100.127.255.254', 'carrier-grade NAT'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    ['192.0.0.8', 'reserved'],
    ['192.88.99.1', 'reserved'], // the 6to4 relay anycast, deprecated
    ['198.51.100.7', 'reserved'],
    ['203.0.113.7', 'reserved'],
    ['192.31.196.1', 'as112'],
    ['192.52.193.1', 'amt'],
    ['2001:db8::1', 'reserved'], // documentation
    ['3fff::1', 'reserved'], // documentation, RFC 9637
    ['2001::1', 'teredo'],
    ['2001:3::1', 'amt'],
    ['2001:4:112::1', 'as112v6'],
    ['2001:10::1', 'deprecatedOrchid'],
    ['2001:20::1', 'orchid2'],
    ['2001:30::1', 'droneRemoteIdProtocolEntityTags'],
    ['5f00::1', 'segmentRouting'],
    ['100::1', 'discard'],
    ['2002:7f00:1::', '6to4'],
    ['2002:808:808::', '6to4'], // 6to4 is deprecated (RFC 7526): refused whatever it carries
    ['64:ff9b:1::a00:1', 'NAT64 local-use'], // RFC 8215
    ['::ffff:0:a00:1', 'IPv4-translated'], // RFC 6145
    // Outside 2000::/3, where IANA allocates IPv6 global unicast: the deprecated IPv4-compatible
    // form (which is not the IPv4 address: `::127.0.0.1` is `::7f00:1`), unassigned space.
    ['::127.0.0.1', 'reserved'],
    ['::a00:1', 'reserved'],
    ['::8.8.8.8', 'reserved'],
    ['4000::1', 'reserved'],
    // IPv4-mapped and NAT64 (RFC 6052's /96) addresses, as their IPv4 address.
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:100.64.0.1', 'carrier-grade NAT'],
    ['::ffff:198.18.0.1', 'reserved'],
    ['0:0:0:0:0:ffff:c0a8:101', 'private'],
    ['64:ff9b::127.0.0.1', 'loopback'],
    ['64:ff9b::a00:1', 'private'],
    ['64:ff9b::192.168.0.1', 'private'],
    ['64:ff9b::100.64.0.1', 'carrier-grade NAT'],
    ['64:ff9b::198.18.0.1', 'reserved'],
    ['not-an-ip', 'not an IP address'],
    ['127.1', 'not an IP address'],
  ])('refuses the special-purpose %s (%s)', (address, reason) => {
    expect(nonPublicReason(address)).toBe(reason);
  });

  it.each([
    '93.184.216.34',
    '8.8.8.8',
    '172.32.0.1',
    '100.128.0.1',
    '198.20.0.1',
    '2606:4700:4700::1111',
    '2a00:1450:4001::200e',
    '2001:4860:4860::8888',
    '2001:200::1', // the first global unicast after IETF protocol assignments (2001::/23, with benchmarking in it)
    '::ffff:8.8.8.8',
    '64:ff9b::808:808', // NAT64 of a public address: how an IPv6-only subnet reaches an IPv4-only host
  ])('passes the public address %s', (address) => {
    expect(nonPublicReason(address)).toBeUndefined();
  });
});

describe('connectLookup', () => {
  const resolve = resolver({
    'loopback.test': ['127.0.0.1'],
    'private.test': ['10.0.0.5'],
    'metadata.test': ['169.254.169.254'],
    'v6-loopback.test': ['::1'],
    'ula.test': ['fc00::1'],
    'mixed.test': ['93.184.216.34', '10.0.0.5'],
    'benchmarking.test': ['2606:4700:4700::1111', '2001:2::1'],
    'mapped.test': ['::ffff:127.0.0.1'],
    'nat64.test': ['64:ff9b::c0a8:1'],
    'public.test': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
  });
  const publicOnly = connectLookup({ resolve, publicOnly: true });

  it.each([
    ['loopback.test', '127.0.0.1', 'loopback'],
    ['private.test', '10.0.0.5', 'private'],
    ['metadata.test', '169.254.169.254', 'cloud metadata'],
    ['v6-loopback.test', '::1', 'loopback'],
    ['ula.test', 'fc00::1', 'private'],
    ['mixed.test', '10.0.0.5', 'private'],
    ['benchmarking.test', '2001:2::1', 'benchmarking'],
    ['mapped.test', '::ffff:127.0.0.1', 'loopback'],
    ['nat64.test', '64:ff9b::c0a8:1', 'private'],
  ])('refuses %s, which resolves to %s, with a PermanentError saying why', async (hostname, address, reason) => {
    const { error } = await look(publicOnly, hostname);
    expect(error).toBeInstanceOf(PermanentError);
    expect(error?.message).toBe(`${hostname} resolves to ${address} (${reason}), not a public address`);
  });

  it('answers with the addresses it checked, as net.connect asks for them', async () => {
    expect(await look(publicOnly, 'public.test', { all: true })).toEqual({
      error: null,
      address: [
        { address: '93.184.216.34', family: 4 },
        { address: '2606:2800:220:1:248:1893:25c8:1946', family: 6 },
      ],
      family: undefined,
    });
    expect(await look(publicOnly, 'public.test', { all: false })).toEqual({ error: null, address: '93.184.216.34', family: 4 });
    expect(await look(publicOnly, 'public.test', { all: false, family: 6 })).toEqual({ error: null, address: '2606:2800:220:1:248:1893:25c8:1946', family: 6 });
  });

  it('passes resolver failures through, as ordinary network errors', async () => {
    const { error } = await look(publicOnly, 'nowhere.test');
    expect(error).not.toBeInstanceOf(PermanentError);
    expect((error as NodeJS.ErrnoException).code).toBe('ENOTFOUND');
  });

  it('lets private addresses through when not public-only', async () => {
    expect(await look(connectLookup({ resolve, publicOnly: false }), 'private.test', { all: false })).toEqual({ error: null, address: '10.0.0.5', family: 4 });
  });
});

describe('undiciTransport with a lookup', () => {
  let server: TestHttpServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  const send = (url: string, lookup: LookupFunction) =>
    sendJson({ transport, url, method: 'POST', headers: {}, body: '{}', signal: AbortSignal.timeout(5_000), target: 'test', lookup });
  const transport = undiciTransport();

  it('connects to the address the lookup answered, without resolving the name again', async () => {
    server = await startTestHttpServer({ status: 204 });
    const port = new URL(server.url).port;
    // No DNS knows receiver.invalid: only the lookup can have led the request to the server.
    const resolve = resolver({ 'receiver.invalid': ['127.0.0.1'] });
    await send(`http://receiver.invalid:${port}/in`, connectLookup({ resolve, publicOnly: false }));
    expect(server.requests.map((request) => [request.path, request.headers.host])).toEqual([['/in', `receiver.invalid:${port}`]]);
    expect(resolve.calls).toEqual(['receiver.invalid']);
  });

  it('sends nothing when the lookup refuses, and fails permanently naming the reason', async () => {
    server = await startTestHttpServer({ status: 204 });
    const port = new URL(server.url).port;
    const lookup = connectLookup({ resolve: resolver({ 'rebound.invalid': ['127.0.0.1'] }), publicOnly: true });
    const error = await send(`http://rebound.invalid:${port}/token/sekrit`, lookup).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toBe('request to test refused: rebound.invalid resolves to 127.0.0.1 (loopback), not a public address');
    expect(server.requests).toHaveLength(0);
  });
});

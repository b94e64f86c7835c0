/**
 * How outgoing requests find their host's address. A request that must reach the public internet
 * only resolves the name once, refuses it when any address it resolves to is not public
 * (loopback, private, link-local, cloud metadata, ...), and connects to the address it checked:
 * a DNS answer that changes between a check and the connection (DNS rebinding) cannot slip in.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { PermanentError } from '../errors.js';

/** Every address a host name resolves to. */
export type HostResolver = (hostname: string) => Promise<readonly LookupAddress[]>;

/** The system resolver (getaddrinfo, as net.connect uses), every address in its order. */
export const systemResolver: HostResolver = (hostname) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses)));
  });

/** Checked in order: the first range that holds an address names why it is refused. */
const NON_PUBLIC: readonly (readonly [reason: string, cidrs: readonly string[]])[] = [
  // AWS (IMDS, IPv6 IMDS, ECS task metadata), GCP and Azure (169.254.169.254), Alibaba Cloud.
  ['cloud metadata', ['169.254.169.254/32', '169.254.170.2/32', 'fd00:ec2::254/128', '100.100.100.200/32']],
  ['loopback', ['127.0.0.0/8', '::1/128']],
  ['unspecified', ['0.0.0.0/8', '::/128']],
  ['private', ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fc00::/7', 'fec0::/10', '64:ff9b:1::/48']],
  ['link-local', ['169.254.0.0/16', 'fe80::/10']],
  ['multicast', ['224.0.0.0/4', 'ff00::/8']],
  [
    'reserved',
    ['192.0.0.0/24', '192.0.2.0/24', '198.18.0.0/15', '198.51.100.0/24', '203.0.113.0/24', '240.0.0.0/4', '::/96', '100::/64', '2001::/32', '2001:db8::/32'],
  ],
];

const BLOCKS = NON_PUBLIC.map(([reason, cidrs]) => {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [network, prefix] = cidr.split('/') as [string, string];
    list.addSubnet(network, Number(prefix), isIP(network) === 6 ? 'ipv6' : 'ipv4');
  }
  return [reason, list] as const;
});

/**
 * Why `address` (an IP literal) is not a public address, e.g. 'loopback' or 'private'; undefined
 * when it is public. IPv6 addresses that carry an IPv4 address (mapped `::ffff:a.b.c.d`, NAT64
 * `64:ff9b::/96`, 6to4 `2002::/16`) are judged by that IPv4 address.
 */
export function nonPublicReason(address: string): string | undefined {
  const ip = address.split('%')[0]!; // a zone (fe80::1%eth0) does not change the address
  const version = isIP(ip);
  if (version === 0) return 'not an IP address';
  const embedded = version === 6 ? embeddedIpv4(ip) : undefined;
  if (embedded !== undefined) return nonPublicReason(embedded);
  const type = version === 6 ? 'ipv6' : 'ipv4';
  return BLOCKS.find(([, list]) => list.check(ip, type))?.[0];
}

function embeddedIpv4(ipv6: string): string | undefined {
  const g = ipv6Groups(ipv6);
  const dotted = (high: number, low: number) => `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) return dotted(g[6]!, g[7]!);
  if (g[0] === 0x64 && g[1] === 0xff9b && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0) return dotted(g[6]!, g[7]!);
  if (g[0] === 0x2002) return dotted(g[1]!, g[2]!);
  return undefined;
}

/** The eight 16-bit groups of an IPv6 address (URL parsing writes a dotted tail as hex first). */
function ipv6Groups(ipv6: string): number[] {
  const canonical = new URL(`http://[${ipv6}]/`).hostname.slice(1, -1);
  const [head, tail] = canonical.split('::') as [string, string | undefined];
  const groups = (part: string | undefined) => (part ? part.split(':').map((group) => parseInt(group, 16)) : []);
  const left = groups(head);
  if (tail === undefined) return left;
  const right = groups(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

export interface ConnectLookupOptions {
  /** Default systemResolver. */
  resolve?: HostResolver | undefined;
  /** Refuse a name when any address it resolves to is not public. */
  publicOnly: boolean;
}

/**
 * A `lookup` for net/tls.connect (undici's `connect: { lookup }`): resolves with `resolve`, and
 * when `publicOnly` fails the connection with a PermanentError naming the host, the address and
 * why, before anything is sent. Every address is checked, not only the one used, so a name cannot
 * pass by mixing a public address with an internal one. The connection goes to the addresses
 * checked here; nothing resolves the name again.
 */
export function connectLookup(options: ConnectLookupOptions): LookupFunction {
  const resolve = options.resolve ?? systemResolver;
  return (hostname, lookupOptions, callback) => {
    resolve(hostname).then(
      (addresses) => {
        if (options.publicOnly) {
          for (const { address } of addresses) {
            const reason = nonPublicReason(address);
            if (reason !== undefined) return callback(new PermanentError(`${hostname} resolves to ${address} (${reason}), not a public address`), '');
          }
        }
        const family = lookupOptions.family === 4 || lookupOptions.family === 6 ? lookupOptions.family : undefined;
        const usable = family === undefined ? [...addresses] : addresses.filter((address) => address.family === family);
        const [first] = usable;
        if (first === undefined) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '');
        if (lookupOptions.all) callback(null, usable);
        else callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, ''),
    );
  };
}

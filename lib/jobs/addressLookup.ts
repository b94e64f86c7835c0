/**
 * How outgoing requests find their host's address. A request that must reach the public internet
 * only resolves the name once, refuses it when any address it resolves to is not public
 * (loopback, private, link-local, cloud metadata, ...), and connects to the address it checked:
 * a DNS answer that changes between a check and the connection (DNS rebinding) cannot slip in.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { PermanentError } from '../errors.js';

/** Every address a host name resolves to. */
export type HostResolver = (hostname: string) => Promise<readonly LookupAddress[]>;

/** The system resolver (getaddrinfo, as net.connect uses), every address in its order. */
export const systemResolver: HostResolver = (hostname) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses)));
  });

/**
 * Cloud metadata services, named apart so that an error says what the request was after. AWS
 * (IMDS, IPv6 IMDS, ECS task metadata), GCP and Azure (169.254.169.254), Alibaba Cloud. ipaddr.js
 * refuses them too (link-local, unique local, carrier-grade NAT), under a vaguer name.
 */
const CLOUD_METADATA = {
  'cloud metadata': ['169.254.169.254/32', '169.254.170.2/32', 'fd00:ec2::254/128', '100.100.100.200/32'].map((cidr) => ipaddr.parseCIDR(cidr)),
};

/** RFC 6052's well-known NAT64 prefix: DNS64 (AWS's on IPv6-only subnets) writes an IPv4-only host's address in it. */
const NAT64_WELL_KNOWN = ipaddr.IPv6.parseCIDR('64:ff9b::/96');

/**
 * IANA allocates IPv6 global unicast from 2000::/3 only. ipaddr.js calls the rest of the space
 * 'unicast' too where it names no range (the deprecated IPv4-compatible `::a.b.c.d`, unassigned space).
 */
const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR('2000::/3');

/** ipaddr.js's range names, where a plainer word says it better (the rest are its own). */
const REASONS: Readonly<Record<string, string>> = {
  linkLocal: 'link-local',
  uniqueLocal: 'private', // RFC 4193: IPv6's private addresses
  deprecatedSiteLocal: 'private',
  carrierGradeNat: 'carrier-grade NAT',
  rfc6052: 'NAT64 local-use', // the well-known /96 is judged by its IPv4 address; what is left is 64:ff9b:1::/48
  rfc6145: 'IPv4-translated',
};

/**
 * Why `address` (an IP literal) is not a public address, e.g. 'loopback' or 'private'; undefined
 * when it is public. Public means what ipaddr.js calls 'unicast': every special-purpose range it
 * knows (IANA's registries: private, loopback, link-local, benchmarking, documentation, 6to4,
 * Teredo, ...) is refused, so a range the registries add comes with an upgrade of the package,
 * not an edit here. IPv6 addresses that carry an IPv4 address to be reached as that IPv4 address
 * (mapped `::ffff:a.b.c.d`, NAT64's `64:ff9b::/96`) are judged by that IPv4 address: NAT64 of a
 * public address is how an IPv6-only network reaches an IPv4-only host.
 */
export function nonPublicReason(address: string): string | undefined {
  const ip = address.split('%')[0]!; // a zone (fe80::1%eth0) does not change the address
  if (isIP(ip) === 0) return 'not an IP address'; // ipaddr.js would also take '127.1' or '0x7f.0.0.1'
  // Node's canonical form first: ipaddr.js reads a dotted tail after `::` as IPv4-mapped, where
  // the connection would go to the IPv4-compatible address (`::127.0.0.1` is `::7f00:1`).
  const parsed = ipaddr.parse(isIP(ip) === 6 ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : ip);
  if (parsed.kind() === 'ipv6') {
    const ipv6 = parsed as ipaddr.IPv6;
    if (ipv6.isIPv4MappedAddress()) return nonPublicReason(ipv6.toIPv4Address().toString());
    if (ipv6.match(NAT64_WELL_KNOWN)) return nonPublicReason(embeddedIpv4(ipv6));
  }
  const metadata = ipaddr.subnetMatch(parsed, CLOUD_METADATA, 'none');
  if (metadata !== 'none') return metadata;
  const range = parsed.range();
  if (range !== 'unicast') return REASONS[range] ?? range;
  if (parsed.kind() === 'ipv6' && !(parsed as ipaddr.IPv6).match(GLOBAL_UNICAST_V6)) return 'reserved';
  return undefined;
}

/** The IPv4 address in an IPv6 address's last 32 bits. */
function embeddedIpv4(ipv6: ipaddr.IPv6): string {
  const [high, low] = ipv6.parts.slice(6) as [number, number];
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
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

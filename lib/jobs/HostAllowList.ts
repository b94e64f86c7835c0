import { isIP } from 'node:net';

interface HostPattern {
  /** Normalized as URL parsing normalizes hostnames (lower case, punycode, `[v6]`, dotted IPv4). */
  host: string;
  /** `*.example.com`: any subdomain of example.com at any depth, not example.com itself. */
  subdomains: boolean;
  /** Undefined: any port. */
  port: string | undefined;
  /** Written as an IP literal or as `localhost`: the address is what the entry means. */
  addressAsWritten: boolean;
}

/**
 * Which hosts outgoing requests may go to. Patterns: `example.com` (any port),
 * `example.com:8443` (that port only), `*.example.com` (subdomains), `[::1]:8080`. An empty list
 * allows nothing. Hosts are matched by name as written in the URL; where a name may lead is the
 * caller's to check (the webhook type refuses names that resolve to internal addresses), except
 * for entries written as an IP literal or `localhost` (see `listsAddress`).
 */
export class HostAllowList {
  readonly #patterns: readonly HostPattern[];

  private constructor(patterns: readonly HostPattern[]) {
    this.#patterns = patterns;
  }

  /** From a comma-separated string or a list; throws a TypeError naming a malformed pattern. */
  static parse(value: string | readonly string[] | undefined): HostAllowList {
    const entries = typeof value === 'string' ? value.split(',') : (value ?? []);
    return new HostAllowList(
      entries
        .map((entry) => entry.trim())
        .filter((entry) => entry !== '')
        .map(parsePattern),
    );
  }

  get isEmpty(): boolean {
    return this.#patterns.length === 0;
  }

  /** Why `url` may not be requested, or undefined when it may. */
  refusal(url: string): string | undefined {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return 'not a valid URL';
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return 'only http and https URLs are allowed';
    if (parsed.username !== '' || parsed.password !== '') return 'credentials in the URL are not allowed';
    if (this.isEmpty) return 'the host allow-list is empty';
    return this.#matching(parsed).length > 0 ? undefined : `host ${parsed.host} is not in the allow-list`;
  }

  allows(url: string): boolean {
    return this.refusal(url) === undefined;
  }

  /**
   * `url` is allowed by an entry written as an IP literal or as `localhost`: whoever listed it
   * meant that address, internal or not, so it is trusted as written.
   */
  listsAddress(url: string): boolean {
    if (!this.allows(url)) return false;
    return this.#matching(new URL(url)).some((pattern) => pattern.addressAsWritten);
  }

  #matching(url: URL): HostPattern[] {
    const port = url.port || (url.protocol === 'https:' ? '443' : '80');
    return this.#patterns.filter(
      (pattern) =>
        (pattern.subdomains ? url.hostname.endsWith(`.${pattern.host}`) : url.hostname === pattern.host) &&
        (pattern.port === undefined || pattern.port === port),
    );
  }
}

function parsePattern(entry: string): HostPattern {
  const subdomains = entry.startsWith('*.');
  const rest = subdomains ? entry.slice(2) : entry;
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(rest);
  const [, hostPart, port] = match ?? [];
  if (hostPart === undefined || /[/\\@?#*%\s]/.test(hostPart) || (port !== undefined && !(Number(port) >= 1 && Number(port) <= 65_535))) {
    throw new TypeError(`malformed host pattern "${entry}": expected host, host:port, *.domain or [ipv6]:port`);
  }
  let host: string;
  try {
    host = new URL(`http://${hostPart}/`).hostname;
  } catch {
    throw new TypeError(`malformed host pattern "${entry}": not a valid host name`);
  }
  const addressAsWritten = !subdomains && (host === 'localhost' || isIP(host.replace(/^\[|\]$/g, '')) !== 0);
  return { host, subdomains, port: port === undefined ? undefined : String(Number(port)), addressAsWritten };
}

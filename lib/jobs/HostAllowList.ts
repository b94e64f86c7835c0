interface HostPattern {
  /** Normalized as URL parsing normalizes hostnames (lower case, punycode, `[v6]`, dotted IPv4). */
  host: string;
  /** `*.example.com`: any subdomain of example.com at any depth, not example.com itself. */
  subdomains: boolean;
  /** Undefined: any port. */
  port: string | undefined;
}

/**
 * Which hosts outgoing requests may go to. Patterns: `example.com` (any port),
 * `example.com:8443` (that port only), `*.example.com` (subdomains), `[::1]:8080`. An empty list
 * allows nothing. Hosts are matched by name as written in the URL: a listed name that resolves to
 * an internal address is not caught, so list only names you control or trust.
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
      entries.map((entry) => entry.trim()).filter((entry) => entry !== '').map(parsePattern),
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
    const port = parsed.port || (parsed.protocol === 'https:' ? '443' : '80');
    const allowed = this.#patterns.some(
      (pattern) =>
        (pattern.subdomains ? parsed.hostname.endsWith(`.${pattern.host}`) : parsed.hostname === pattern.host) &&
        (pattern.port === undefined || pattern.port === port),
    );
    return allowed ? undefined : `host ${parsed.host} is not in the allow-list`;
  }

  allows(url: string): boolean {
    return this.refusal(url) === undefined;
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
  return { host, subdomains, port: port === undefined ? undefined : String(Number(port)) };
}

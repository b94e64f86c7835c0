import { describe, expect, it } from 'vitest';
import { HostAllowList } from '../../lib/jobs/HostAllowList.js';

describe('HostAllowList', () => {
  const list = HostAllowList.parse(' hooks.example.com, *.partner.io ,api.example.org:8443, 127.0.0.1:9000, [::1]:8080 ');

  it.each([
    'https://hooks.example.com/in',
    'http://hooks.example.com:1234/any/port',
    'https://HOOKS.Example.COM/case',
    'https://a.partner.io/x',
    'https://a.b.partner.io/deep',
    'https://api.example.org:8443/',
    'http://127.0.0.1:9000/',
    'http://[::1]:8080/',
  ])('allows %s', (url) => {
    expect(list.refusal(url)).toBeUndefined();
    expect(list.allows(url)).toBe(true);
  });

  it.each<[string, RegExp]>([
    ['http://169.254.169.254/latest/meta-data/', /not in the allow-list/],
    ['http://localhost/', /not in the allow-list/],
    ['http://127.0.0.1:9001/', /not in the allow-list/],
    ['http://127.0.0.1/', /not in the allow-list/],
    ['http://2130706433:9001/', /not in the allow-list/],
    ['http://0xa9.254.169.254/', /not in the allow-list/],
    ['https://partner.io/', /not in the allow-list/],
    ['https://evilpartner.io/', /not in the allow-list/],
    ['https://hooks.example.com.evil.net/', /not in the allow-list/],
    ['https://hooks.example.com./', /not in the allow-list/],
    ['https://api.example.org/', /not in the allow-list/],
    ['https://evil.net#@hooks.example.com/', /not in the allow-list/],
    ['https://user:pass@hooks.example.com/', /credentials/],
    ['https://token@hooks.example.com/', /credentials/],
    ['ftp://hooks.example.com/', /only http and https/],
    ['file:///etc/passwd', /only http and https/],
    ['hooks.example.com/in', /not a valid URL/],
  ])('refuses %s', (url, reason) => {
    expect(list.refusal(url)).toMatch(reason);
  });

  it('compares explicit ports with the scheme default', () => {
    const https = HostAllowList.parse('secure.example.com:443');
    expect(https.allows('https://secure.example.com/')).toBe(true);
    expect(https.allows('http://secure.example.com/')).toBe(false);
    expect(https.allows('http://secure.example.com:443/')).toBe(true);
  });

  it('matches hosts as URL parsing normalizes them, so numeric spellings of an IP are that IP', () => {
    expect(list.allows('http://2130706433:9000/')).toBe(true);
    expect(list.allows('http://0x7f.0.0.1:9000/')).toBe(true);
    expect(list.refusal('http://0x7f.0.0.1:9001/')).toBe('host 127.0.0.1:9001 is not in the allow-list');
  });

  it('allows nothing when empty', () => {
    for (const empty of [undefined, '', ' , ', []]) {
      expect(HostAllowList.parse(empty).refusal('https://example.com/')).toBe('the host allow-list is empty');
    }
  });

  it('accepts a list as well as a comma-separated string', () => {
    expect(HostAllowList.parse(['a.test', 'b.test']).allows('http://b.test/')).toBe(true);
  });

  it.each(['http://a.test', 'a.test/path', 'user@a.test', 'a.test:0', 'a.test:70000', 'a.test:x', '*', '*.', 'a*.test', 'a .test'])(
    'refuses the malformed pattern %j',
    (pattern) => {
      expect(() => HostAllowList.parse(pattern)).toThrow(TypeError);
    },
  );
});

describe('HostAllowList.listsAddress', () => {
  const list = HostAllowList.parse('hooks.example.com, *.partner.io, 127.0.0.1:9000, [::1], 10.0.0.7, localhost:8080, *.localhost');

  it.each(['http://127.0.0.1:9000/', 'http://[::1]:1234/', 'http://10.0.0.7/', 'http://localhost:8080/'])(
    'trusts %s, allowed by an entry written as an IP literal or localhost',
    (url) => {
      expect(list.listsAddress(url)).toBe(true);
    },
  );

  it.each(['https://hooks.example.com/', 'https://a.partner.io/', 'http://app.localhost/', 'http://localhost:9999/', 'http://127.0.0.1:9001/', 'not a url'])(
    'does not trust %s: a name, or not allowed at all',
    (url) => {
      expect(list.listsAddress(url)).toBe(false);
    },
  );
});

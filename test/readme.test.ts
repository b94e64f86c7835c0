/** The README's "Add a job type" snippets are the real files, not a copy that drifts. */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url);
const read = (path: string) => readFile(new URL(path, root), 'utf8');

describe('README: Add a job type', () => {
  it('shows jobs/orderConfirm.ts as it is (the handler body aside)', async () => {
    const readme = await read('README.md');
    const section = readme.slice(readme.indexOf('## Add a job type'));
    const snippet = /```ts\n([\s\S]*?)```/.exec(section)![1]!;
    const file = await read('jobs/orderConfirm.ts');
    const lines = snippet
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('async handle('));
    for (const line of lines) expect(file, line).toContain(line);
  });

  it('names the line of queue.config.ts as it is', async () => {
    const readme = await read('README.md');
    const config = await read('queue.config.ts');
    expect(readme).toContain('`jobTypes: [webhook(), sms(), orderConfirm]`');
    expect(config.replace(/\s+|\/\/[^\n]*/g, ' ')).toMatch(/jobTypes: \[.*webhook\(\), sms\(\), orderConfirm, \]/);
  });

  it('points at a package entry that is the public API', async () => {
    const pkg = JSON.parse(await read('package.json'));
    expect(pkg.exports).toEqual({ '.': './lib/index.ts' });
  });
});

describe('README: Batch handlers', () => {
  it('shows examples/pushNotify.ts as it is', async () => {
    const readme = await read('README.md');
    const section = readme.slice(readme.indexOf('### Batch handlers'));
    const snippet = /```ts\n([\s\S]*?)```/.exec(section)![1]!;
    const file = await read('examples/pushNotify.ts');
    expect(file).toContain(snippet);
  });
});

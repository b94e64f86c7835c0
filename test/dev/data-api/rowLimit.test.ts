import { describe, expect, it } from 'vitest';
import { failure, startConformance } from './support.js';

describe('the 64 KB row limit', () => {
  it('refuses a row over 64 KB by default, as AWS documents', async () => {
    const c = await startConformance();
    try {
      const error = await failure(c.execute("SELECT REPEAT('x', 70000) AS big"));
      expect(error.name).toBe('BadRequestException');
      expect(error.message).toMatch(/Packet for query is too large/);
      const small = await c.execute("SELECT REPEAT('x', 60000) AS fits");
      expect(small.records?.[0]?.[0]?.stringValue).toHaveLength(60_000);
    } finally {
      await c.close();
    }
  });

  it('returns big rows with rowLimit off (LOCAL_DATA_API_ROW_LIMIT=off), as real clusters were seen to', async () => {
    const c = await startConformance({ rowLimit: false });
    try {
      const big = await c.execute("SELECT REPEAT('x', 100000) AS big");
      expect(big.records?.[0]?.[0]?.stringValue).toHaveLength(100_000);
    } finally {
      await c.close();
    }
  });
});

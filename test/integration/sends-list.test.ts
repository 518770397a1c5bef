import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSend, getSend, listSends } from '../../src/domain/sending/sends.ts';
import { ValidationError } from '../../src/lib/errors.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { makePost, seedAudience } from '../helpers/sending.ts';

/** listSends: one statement per page, whatever the page size, with the same figures as getSend. */
let t: TestDatabase;
const posts: string[] = [];

class CountQueries implements KyselyPlugin {
  count = 0;
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    this.count++;
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

beforeAll(async () => {
  t = await createTestDatabase();
  await seedAudience(t.db, 5);
  posts.push(await makePost(t.db), await makePost(t.db));
  for (let i = 0; i < 7; i++) await createSend(t.db, { postId: posts[i % 2]!, segment: { newsletters: ['weekly'] }, draft: i % 3 === 0 });
});
afterAll(async () => {
  await t.drop();
});

describe('listSends', () => {
  it('reads a whole page in one query, newest first, with the figures getSend gives', async () => {
    const counter = new CountQueries();
    const page = await listSends(t.db.withPlugin(counter), { limit: 200 });
    expect(counter.count).toBe(1);
    expect(page.sends).toHaveLength(7);
    expect(page.next).toBeNull();
    const ids = page.sends.map((s) => Number(s.id));
    expect([...ids].sort((a, b) => b - a)).toEqual(ids);
    for (const s of page.sends) expect({ ...s, seconds_to_send: null }).toEqual({ ...(await getSend(t.db, s.id)), seconds_to_send: null });
  });

  it('pages by cursor and filters by post', async () => {
    const seen: string[] = [];
    let after: string | undefined;
    do {
      const page = await listSends(t.db, { limit: 3, after });
      seen.push(...page.sends.map((s) => s.id));
      after = page.next ?? undefined;
    } while (after);
    expect(seen).toHaveLength(7);
    expect(new Set(seen).size).toBe(7);
    const ofFirst = await listSends(t.db, { postId: posts[0] });
    expect(ofFirst.sends.map((s) => s.post_id)).toEqual(Array(4).fill(posts[0]));
  });

  it('refuses a forged cursor or post with a ValidationError', async () => {
    await expect(listSends(t.db, { after: 'garbage' })).rejects.toThrow(ValidationError);
    await expect(listSends(t.db, { after: Buffer.from('["1; drop table sends"]').toString('base64url') })).rejects.toThrow(ValidationError);
    await expect(listSends(t.db, { postId: 'abc' })).rejects.toThrow(ValidationError);
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The admin lists on the shared AdminTable (src/components/AdminTable.astro: header, rows, the
 * empty line, cards on a phone) and RowAction buttons stay on them: no page of this list draws a
 * table of its own. Pages join the list as they move (test/e2e/admin-screens.test.ts checks them
 * on a phone and a desktop with rows in them).
 */
const ON_ADMIN_TABLE = [
  'src/pages/admin/offers.astro',
  'src/pages/admin/waves.astro',
  'src/pages/admin/referrals/milestones.astro',
  'src/pages/admin/conversation/bans.astro',
  'src/pages/admin/webhooks/index.astro',
  'src/pages/admin/webhooks/[id].astro',
  'src/pages/admin/recommendations.astro',
  'src/pages/admin/tokens.astro',
];

describe('admin lists', () => {
  it.each(ON_ADMIN_TABLE)('%s uses AdminTable and draws no table of its own', (path) => {
    const source = readFileSync(join(import.meta.dirname, '../..', path), 'utf8');
    expect(source).toMatch(/^import AdminTable from '[./]+\/components\/AdminTable\.astro';$/m);
    expect(source).not.toMatch(/<table[\s>]/);
  });
});

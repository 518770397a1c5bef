import type { SiteKeys } from '../lib/site-keys.ts';
import { queueConfirmation } from '../domain/members/subscribe.ts';
import type { WaveDeps } from '../domain/members/waves.ts';

/** What releasing a held sign-up needs: its confirmation email, as the sign-up would have sent it. */
export function waveDeps(keys: SiteKeys): WaveDeps {
  return {
    confirm: (db, member, newsletters, idempotencyKey) => queueConfirmation(db, keys, member, newsletters, { idempotencyKey }),
  };
}

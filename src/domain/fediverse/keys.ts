import { exportJwk, generateCryptoKeyPair, importJwk } from '@fedify/fedify';
import type { Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';

/**
 * The site actor's key pairs: RSA (HTTP Signatures, what Mastodon checks) and Ed25519 (Object
 * Integrity Proofs). Made once, the first time they are needed, and kept in fediverse_keys; two
 * processes asking at once both insert-if-absent and then read the same winner.
 */
const KINDS = [
  { kind: 'rsa', algorithm: 'RSASSA-PKCS1-v1_5' },
  { kind: 'ed25519', algorithm: 'Ed25519' },
] as const;

let cached: { at: number; pairs: CryptoKeyPair[] } | undefined;

export async function siteKeyPairs(db: Kysely<Database>): Promise<CryptoKeyPair[]> {
  if (cached && Date.now() - cached.at < 60_000) return cached.pairs;
  let rows = await db.selectFrom('fediverse_keys').selectAll().execute();
  if (rows.length < KINDS.length) {
    for (const { kind, algorithm } of KINDS) {
      if (rows.some((r) => r.kind === kind)) continue;
      const pair = await generateCryptoKeyPair(algorithm);
      await db
        .insertInto('fediverse_keys')
        .values({
          kind,
          public_jwk: JSON.stringify(await exportJwk(pair.publicKey)),
          private_jwk: JSON.stringify(await exportJwk(pair.privateKey)),
        })
        .onConflict((oc) => oc.column('kind').doNothing())
        .execute();
    }
    rows = await db.selectFrom('fediverse_keys').selectAll().execute();
  }
  const pairs: CryptoKeyPair[] = [];
  for (const { kind } of KINDS) {
    const row = rows.find((r) => r.kind === kind)!;
    pairs.push({ publicKey: await importJwk(row.public_jwk, 'public'), privateKey: await importJwk(row.private_jwk, 'private') });
  }
  cached = { at: Date.now(), pairs };
  return pairs;
}

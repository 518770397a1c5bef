import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomToken } from './tokens.ts';

/**
 * The data directory (./.data by default) holds the embedded database, the generated
 * APP_SECRET and uploads. It is made world-traversable (0755) because, run as root, the
 * embedded PostgreSQL runs as the `postgres` user and must reach its own folder inside it.
 */
export function ensureDataDir(dataDir: string): string {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  return dir;
}

/** The APP_SECRET of the embedded default: generated once, kept in DATA_DIR/app-secret (0600). */
export function readOrCreateAppSecret(dataDir: string): string {
  const file = join(ensureDataDir(dataDir), 'app-secret');
  if (existsSync(file)) {
    const secret = readFileSync(file, 'utf8').trim();
    if (secret.length >= 32) return secret;
  }
  const secret = randomToken(48);
  writeFileSync(file, secret + '\n', { mode: 0o600 });
  return secret;
}

import pg from 'pg';
import { errorFields, log } from './log.ts';

/**
 * One LISTEN connection on one channel, kept up: `up` runs once the LISTEN is in place (and
 * again after each reconnection), `down` as soon as the connection is lost, `notified` for each
 * notification. What was notified while the connection was down is lost, so a consumer treats
 * `down`/`up` as "anything may have changed".
 */
export interface ChannelHandlers {
  notified(payload: string): void;
  up(): void;
  down(): void;
}

export interface ChannelListener {
  stop(): Promise<void>;
}

const RETRY_MS = 1_000;

export function listenOnChannel(connection: pg.ClientConfig, channel: string, handlers: ChannelHandlers): ChannelListener {
  if (!/^[a-z_]+$/.test(channel)) throw new Error(`bad channel name ${channel}`);
  let client: pg.Client | undefined;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;

  const lost = (c: pg.Client, err: unknown) => {
    if (client !== c) return;
    client = undefined;
    handlers.down();
    if (!stopped) log.warn(`${channel} listener lost its connection; reconnecting`, errorFields(err));
    c.end().catch(() => undefined);
    if (!stopped) retry = setTimeout(connect, RETRY_MS).unref();
  };

  function connect(): void {
    if (stopped) return;
    const c = new pg.Client({ ...connection, application_name: `hearth ${channel}` });
    client = c;
    c.on('notification', (n) => handlers.notified(n.payload ?? ''));
    c.on('error', (err) => lost(c, err));
    c.on('end', () => lost(c, new Error('connection ended')));
    c.connect()
      .then(() => c.query(`listen ${channel}`))
      .then(() => {
        if (client === c && !stopped) handlers.up();
      })
      .catch((err: unknown) => lost(c, err));
  }

  connect();
  return {
    async stop() {
      stopped = true;
      if (retry) clearTimeout(retry);
      const c = client;
      client = undefined;
      handlers.down();
      await c?.end().catch(() => undefined);
    },
  };
}

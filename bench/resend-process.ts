/**
 * The Resend-compatible test server in a process of its own, for benchmarks: in production the
 * provider is another machine, so its JSON parsing must not share the worker's event loop.
 * The parent talks to it over IPC: {cmd:'stats'} → {received, duplicates}; {cmd:'throttle', rps}.
 */
import { startResendTestServer } from '../test/servers/resend.ts';

const server = await startResendTestServer({ light: true });
process.send!({ url: server.url });
process.on('message', (message: { cmd: string; rps?: number | null }) => {
  if (message.cmd === 'stats') {
    const counts = server.countByRecipient();
    const accepted = server.acceptedAt;
    process.send!({
      received: counts.size,
      duplicates: [...counts.values()].filter((n) => n > 1).length,
      throttled: server.throttled,
      requests: server.requests,
      firstAccepted: accepted[0] ?? null,
      lastAccepted: accepted.at(-1) ?? null,
      accepted: accepted.length,
    });
  } else if (message.cmd === 'throttle') {
    server.throttle(message.rps ?? null);
    process.send!({ ok: true });
  } else if (message.cmd === 'close') {
    void server.close().then(() => process.exit(0));
  }
});

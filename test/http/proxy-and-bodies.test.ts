import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/domain/demo/seed.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { BODY_LIMITS } from '../../src/web/body-limits.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { startServer, type RunningServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * The server on the open internet: behind a reverse proxy (TRUST_PROXY) and facing clients that
 * send bodies of any size, chunked or not. The proxy here is 127.0.0.2 (a loopback address of
 * its own); requests from 127.0.0.1 play a client reaching the server directly.
 */
let t: TestDatabase;
let server: RunningServer;
let port: number;
beforeAll(async () => {
  t = await createTestDatabase();
  await seedDemo(t.db, { members: 0 });
  await createStaffUser(t.db, { email: 'owner@example.com', password: 'a long owner password', role: 'owner' });
  server = await startServer({ databaseUrl: t.url, env: { TRUST_PROXY: '127.0.0.2' } });
  port = Number(new URL(server.url).port);
});
afterAll(async () => {
  await server?.stop();
  await t.drop();
});
beforeEach(async () => {
  await t.db.deleteFrom('rate_limits').execute();
});

interface Sent {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request from a chosen local address (127.0.0.2 is the trusted proxy). */
function send(options: { path: string; method?: string; from?: string; headers?: Record<string, string>; body?: string }): Promise<Sent> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path: options.path,
        method: options.method ?? 'POST',
        localAddress: options.from,
        headers: options.headers,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

let n = 0;
const subscribeFrom = (from: string, forwardedFor?: string) =>
  send({
    path: '/subscribe',
    from,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}),
    },
    body: new URLSearchParams({ email: `reader${++n}@example.com` }).toString(),
  });

describe('behind a trusted reverse proxy', () => {
  it('limits sign-ups per forwarded client address, and ignores X-Forwarded-For from an untrusted peer', async () => {
    // 10 sign-ups per network per hour (SUBSCRIBE_LIMITS.perIp).
    for (let i = 0; i < 10; i++) expect((await subscribeFrom('127.0.0.2', '203.0.113.1, 198.51.100.1')).status).toBe(303);
    expect((await subscribeFrom('127.0.0.2', '198.51.100.1')).status).toBe(429);
    // Another reader behind the same proxy is not the first one.
    expect((await subscribeFrom('127.0.0.2', '198.51.100.2')).status).toBe(303);

    // Straight to the server: the header is the client's own claim, so every request is 127.0.0.1.
    for (let i = 0; i < 10; i++) expect((await subscribeFrom('127.0.0.1', `198.51.100.${100 + i}`)).status).toBe(303);
    expect((await subscribeFrom('127.0.0.1', '198.51.100.200')).status).toBe(429);
    // And the proxy's readers are still counted apart from it.
    expect((await subscribeFrom('127.0.0.2', '198.51.100.3')).status).toBe(303);
  });

  it('marks the session cookie Secure when the trusted proxy says https, and only then', async () => {
    const signIn = (from: string, proto: string) =>
      send({
        path: '/admin/signin',
        from,
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: server.url, 'x-forwarded-proto': proto },
        body: new URLSearchParams({ email: 'owner@example.com', password: 'a long owner password' }).toString(),
      });
    const cookie = (r: Sent) => [r.headers['set-cookie'] ?? []].flat().find((c) => c.startsWith('hearth_staff='));
    const proxied = await signIn('127.0.0.2', 'https');
    expect(proxied.status).toBe(303);
    expect(cookie(proxied)).toMatch(/;\s*Secure/i);
    const direct = await signIn('127.0.0.1', 'https');
    expect(direct.status).toBe(303);
    expect(cookie(direct)).toBeDefined();
    expect(cookie(direct)).not.toMatch(/;\s*Secure/i);
  });
});

const rssKiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.child.pid}/status`, 'utf8'))![1]);

/**
 * Streams `total` bytes as a chunked body, honouring backpressure, until the server answers or
 * closes. Resolves with the answer (if one came) and the bytes the client managed to hand over.
 */
function streamChunked(
  path: string,
  total: number,
  headers: Record<string, string> = {},
): Promise<{ status: number | undefined; written: number }> {
  return new Promise((resolve) => {
    let written = 0;
    let status: number | undefined;
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      req.destroy();
      resolve({ status, written });
    };
    const req = httpRequest(
      { host: '127.0.0.1', port, path, method: 'POST', headers: { 'transfer-encoding': 'chunked', ...headers } },
      (res) => {
        status = res.statusCode;
        res.resume();
        res.on('end', finish);
      },
    );
    req.on('error', finish);
    req.on('close', finish);
    const chunk = Buffer.alloc(64 * 1024, 'a');
    const pump = () => {
      while (!settled && written < total) {
        written += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      if (!settled) req.end();
    };
    pump();
  });
}

describe('bodies are bounded however they arrive', () => {
  it('refuses a chunked 50 MB body to /subscribe with 413 before reading past the limit, four at once, with flat memory', async () => {
    // Warm up the path so the baseline includes what any request costs.
    for (let i = 0; i < 3; i++) await subscribeFrom('127.0.0.1');
    const before = rssKiB();
    const results = await Promise.all(
      [1, 2, 3, 4].map(() => streamChunked('/subscribe', 50 * 1024 * 1024, { 'content-type': 'application/x-www-form-urlencoded' })),
    );
    const after = rssKiB();
    for (const r of results) {
      expect(r.status).toBe(413);
      // What the client could hand over is the limit plus the sockets' buffers, not 50 MB.
      expect(r.written).toBeLessThan(16 * 1024 * 1024);
    }
    expect(after - before, `RSS grew from ${before} KiB to ${after} KiB`).toBeLessThan(40 * 1024);
    // The server itself stopped within one socket read past the limit (its log says how much it read;
    // warnings go to stderr, which may reach us after the answers).
    const reads = await waitFor(
      () => [...server.output().matchAll(/"msg":"request body too large".*?"read":(\d+)/g)].map((m) => Number(m[1])),
      {
        until: (r) => r.length >= 4,
        what: 'four "request body too large" log lines',
      },
    );
    for (const read of reads) expect(read).toBeLessThanOrEqual(BODY_LIMITS.readerForm + 256 * 1024);
    // And it still serves.
    expect((await subscribeFrom('127.0.0.1')).status).toBe(303);
  });

  it('refuses a declared Content-Length over the limit at once, and takes a form under it', async () => {
    const big = await send({
      path: '/subscribe',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `email=a%40example.com&name=${'x'.repeat(BODY_LIMITS.readerForm)}`,
    });
    expect(big.status).toBe(413);
    expect(big.body).toContain('larger than');
    const fits = await send({
      path: '/subscribe',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `email=fits%40example.com&utm_campaign=${'x'.repeat(100)}&website=`,
    });
    expect(fits.status).toBe(303);
  });

  it('bounds webhooks at 1 MiB, and answers the API in its JSON error shape', async () => {
    // Declared sizes: just over is refused by the server; just under reaches the route (which,
    // with no RESEND_WEBHOOK_SECRET here, answers 404).
    const hook = (bytes: number) =>
      send({ path: '/webhooks/resend', headers: { 'content-type': 'application/json' }, body: `"${'x'.repeat(bytes - 2)}"` });
    expect((await hook(BODY_LIMITS.webhook + 1)).status).toBe(413);
    expect((await hook(BODY_LIMITS.webhook)).status).toBe(404);
    expect(BODY_LIMITS.webhook).toBe(1024 * 1024);
    const api = await send({
      path: '/api/v1/members',
      headers: { 'content-type': 'application/json', 'content-length': String(BODY_LIMITS.staff + 1) },
    }).catch(() => undefined);
    expect(api?.status).toBe(413);
    expect(JSON.parse(api!.body)).toEqual({ error: { code: 'body_too_large', message: expect.stringContaining('larger than') } });
  });
});

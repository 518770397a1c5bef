import { describe, expect, it } from 'vitest';
import { renderPostEmail } from '../../emails/post.ts';
import type { SendStatus } from '../../db/types.ts';
import type { RateLimiter } from '../../src/lib/mail-rate.ts';
import type { BatchResult, EmailMessage, Mailer, SendResult } from '../../src/lib/mailer/port.ts';
import { runLane, type LaneClock, type LaneDeps } from '../../src/domain/sending/engine.ts';
import type { RetryPolicy } from '../../src/domain/sending/lifecycle.ts';
import type { BatchDelivery, FixedSend } from '../../src/domain/sending/payload.ts';
import type { Claim, ClaimedBatch, PostedOutcome, SendStore } from '../../src/domain/sending/store.ts';

/**
 * The send engine's lane loop driven through its ports alone: an in-memory SendStore that keeps
 * the Postgres store's rules (a claim counts an attempt, a 429 hands it back, a batch handed back
 * because the send stopped is not an attempt), a mailer that answers from a script, a limiter
 * that records what it was asked, and a virtual clock, so nothing here waits.
 */

const brand = { title: 'Field Notes', accentColor: '#b45309', siteUrl: 'https://news.example.com' };
const SEND: FixedSend = {
  id: '7',
  from: 'Field Notes <letters@example.com>',
  replyTo: 'editor@example.com',
  rendered: {
    full: renderPostEmail({
      brand,
      title: 'Harvest',
      url: 'https://news.example.com/posts/harvest',
      bodyHtml: '<p>All of it.</p>',
      cut: false,
      upgradeUrl: 'https://news.example.com/join',
    }),
    preview: null,
  },
  links: ['https://news.example.com/posts/harvest'],
  trackMembers: false,
};

function deliveries(...emails: string[]): BatchDelivery[] {
  return emails.map((email, i) => ({ memberId: String(100 + i), email, name: null, variant: 'full' as const }));
}

class VirtualClock implements LaneClock {
  t = Date.UTC(2026, 0, 1);
  now = () => this.t;
  slept: number[] = [];
  sleep = async (ms: number) => {
    this.slept.push(ms);
    this.t += ms;
  };
}

interface MemBatch {
  batch: number;
  status: 'pending' | 'posting' | 'posted' | 'failed' | 'cancelled';
  attempts: number;
  dueAt: number;
  deliveries: BatchDelivery[];
  outcome?: PostedOutcome;
  error?: string;
}

/** SendStore in memory, on the lane's clock. */
class MemoryStore implements SendStore {
  status: SendStatus = 'sending';
  batches: MemBatch[];
  retries: Array<{ batch: number; delaySeconds: number; countsAsAttempt: boolean }> = [];
  private clock: VirtualClock;
  constructor(clock: VirtualClock, batches: BatchDelivery[][]) {
    this.clock = clock;
    this.batches = batches.map((d, batch) => ({ batch, status: 'pending', attempts: 0, dueAt: clock.now(), deliveries: d }));
  }
  private find(b: ClaimedBatch): MemBatch {
    return this.batches.find((x) => x.batch === b.batch)!;
  }
  /** What commandSend's cancel does: the send and every batch not being posted. */
  cancel() {
    this.status = 'cancelled';
    for (const b of this.batches) if (b.status === 'pending' || b.status === 'failed') b.status = 'cancelled';
  }
  async fixedSend() {
    return SEND;
  }
  async claim(sendId: string): Promise<Claim> {
    if (this.status !== 'sending') return { kind: 'stopped' };
    const due = this.batches.find((b) => b.status === 'pending' && b.dueAt <= this.clock.now());
    if (due) {
      due.status = 'posting';
      due.attempts += 1;
      return { kind: 'batch', batch: { sendId, batch: due.batch, attempts: due.attempts, deliveries: due.deliveries } };
    }
    const open = this.batches.filter((b) => b.status === 'pending');
    return open.length ? { kind: 'wait', until: new Date(Math.min(...open.map((b) => b.dueAt))) } : { kind: 'done' };
  }
  async markPosted(b: ClaimedBatch, outcome: PostedOutcome) {
    Object.assign(this.find(b), { status: 'posted', outcome });
  }
  async stillSending(b: ClaimedBatch) {
    if (this.status === 'sending') return true;
    const batch = this.find(b);
    batch.status = this.status === 'cancelled' ? 'cancelled' : 'pending';
    batch.attempts -= 1;
    return false;
  }
  async retryLater(b: ClaimedBatch, _owner: string, error: string, delaySeconds: number, countsAsAttempt: boolean) {
    this.retries.push({ batch: b.batch, delaySeconds, countsAsAttempt });
    const batch = this.find(b);
    Object.assign(batch, {
      status: 'pending',
      error,
      dueAt: Math.ceil(this.clock.now() + delaySeconds * 1000),
      attempts: batch.attempts - (countsAsAttempt ? 0 : 1),
    });
  }
  async giveUp(b: ClaimedBatch, _owner: string, error: string) {
    Object.assign(this.find(b), { status: 'failed', error });
    this.status = 'failed';
  }
  async settle() {
    if (this.status === 'sending') this.status = this.batches.every((b) => b.status === 'posted') ? 'sent' : 'failed';
    return this.status;
  }
}

type Posted = { messages: EmailMessage[]; key: string };

/** Answers each call with the next scripted result; an unscripted call fails the test. */
class ScriptedMailer implements Mailer {
  readonly provider = 'resend' as const;
  batches: Posted[] = [];
  singles: Array<{ message: EmailMessage; key: string }> = [];
  private batchScript: Array<(messages: EmailMessage[]) => BatchResult>;
  private singleScript: (message: EmailMessage) => SendResult;
  constructor(
    batchScript: Array<(messages: EmailMessage[]) => BatchResult>,
    singleScript: (message: EmailMessage) => SendResult = () => {
      throw new Error('unexpected single send');
    },
  ) {
    this.batchScript = batchScript;
    this.singleScript = singleScript;
  }
  async sendBatch(messages: EmailMessage[], options: { idempotencyKey: string }): Promise<BatchResult> {
    this.batches.push({ messages, key: options.idempotencyKey });
    const next = this.batchScript.shift();
    if (!next) throw new Error('unexpected batch post');
    return next(messages);
  }
  async send(message: EmailMessage, options?: { idempotencyKey?: string }): Promise<SendResult> {
    this.singles.push({ message, key: options?.idempotencyKey ?? '' });
    return this.singleScript(message);
  }
}

const accepted = (messages: EmailMessage[]): BatchResult => ({ ok: true, ids: messages.map((_, i) => `re_${i}`), rejected: [] });

class RecordingLimiter implements RateLimiter {
  acquired = 0;
  heldOff: number[] = [];
  /** Runs during a slot wait (as another process would while this lane sleeps); returns the wait. */
  private duringWait: () => number;
  constructor(duringWait: () => number = () => 0) {
    this.duringWait = duringWait;
  }
  async acquire() {
    this.acquired += 1;
    return { waitedMs: this.duringWait() };
  }
  async holdOff(seconds: number) {
    this.heldOff.push(seconds);
  }
}

function lane(
  store: MemoryStore,
  mailer: Mailer,
  limiter: RateLimiter,
  clock: VirtualClock,
  retry: RetryPolicy = { maxAttempts: 3, baseSeconds: 1, maxSeconds: 1 },
) {
  const errors: Array<Record<string, unknown>> = [];
  const deps: LaneDeps = {
    store,
    mailer,
    limiter,
    payload: { siteUrl: 'https://news.example.com', secret: 'a-secret-of-enough-length-for-tests' },
    retry,
    owner: 'test-1',
    clock,
    onError: (_message, fields) => errors.push(fields),
  };
  return { run: () => runLane(deps, SEND.id, { runForMs: 60_000 }), errors };
}

describe('runLane', () => {
  it('posts every batch once under send-<id>-batch-<n> and settles the send', async () => {
    const clock = new VirtualClock();
    const store = new MemoryStore(clock, [deliveries('a@example.com', 'b@example.com'), deliveries('c@example.com')]);
    const mailer = new ScriptedMailer([accepted, accepted]);
    const outcome = await lane(store, mailer, new RecordingLimiter(), clock).run();
    expect(outcome).toEqual({ next: 'stop' });
    expect(mailer.batches.map((b) => b.key)).toEqual(['send-7-batch-0', 'send-7-batch-1']);
    expect(mailer.batches[0]!.messages.map((m) => m.to)).toEqual([['a@example.com'], ['b@example.com']]);
    expect(store.status).toBe('sent');
    expect(store.batches.map((b) => b.outcome?.ids)).toEqual([['re_0', 're_1'], ['re_0']]);
  });

  it('holds everyone off on a 429 and does not count it as an attempt', async () => {
    const clock = new VirtualClock();
    const store = new MemoryStore(clock, [deliveries('a@example.com')]);
    const limited = (): BatchResult => ({
      ok: false,
      error: { kind: 'rate_limited', message: 'slow down', status: 429, retryAfterSeconds: 3 },
    });
    // Three 429s in a row with a policy of one attempt: still posted, never given up.
    const mailer = new ScriptedMailer([limited, limited, limited, accepted]);
    const limiter = new RecordingLimiter();
    const { run, errors } = lane(store, mailer, limiter, clock, { maxAttempts: 1, baseSeconds: 1, maxSeconds: 1 });
    expect(await run()).toEqual({ next: 'stop' });
    expect(limiter.heldOff).toEqual([3, 3, 3]);
    expect(store.retries).toEqual([0, 1, 2].map(() => ({ batch: 0, delaySeconds: 0, countsAsAttempt: false })));
    expect(mailer.batches.map((b) => b.key)).toEqual(Array(4).fill('send-7-batch-0'));
    expect(store.batches[0]).toMatchObject({ status: 'posted', attempts: 1 });
    expect(store.status).toBe('sent');
    expect(errors).toEqual([]);
  });

  it('posts a batch refused as a whole (4xx) one email at a time, rejecting only the bad address', async () => {
    const clock = new VirtualClock();
    const store = new MemoryStore(clock, [deliveries('a@example.com', 'not-an-address', 'c@example.com')]);
    const mailer = new ScriptedMailer(
      [() => ({ ok: false, error: { kind: 'invalid', message: 'Invalid `to` field', status: 422 } })],
      (message) =>
        message.to[0] === 'not-an-address'
          ? { ok: false, error: { kind: 'invalid', message: 'Invalid `to` field', status: 422 } }
          : { ok: true, id: `re_${message.to[0]}` },
    );
    const limiter = new RecordingLimiter();
    expect(await lane(store, mailer, limiter, clock).run()).toEqual({ next: 'stop' });
    expect(mailer.singles.map((s) => s.key)).toEqual([
      'send-7-batch-0-member-100',
      'send-7-batch-0-member-101',
      'send-7-batch-0-member-102',
    ]);
    // A slot for the batch and one for each email.
    expect(limiter.acquired).toBe(4);
    expect(store.batches[0]!.outcome).toEqual({
      ids: ['re_a@example.com', null, 're_c@example.com'],
      rejected: [{ index: 1, message: 'Invalid `to` field' }],
    });
    expect(store.status).toBe('sent');
  });

  it('backs off after a 5xx and posts the same batch again under the same key', async () => {
    const clock = new VirtualClock();
    const store = new MemoryStore(clock, [deliveries('a@example.com', 'b@example.com')]);
    const unavailable = (): BatchResult => ({ ok: false, error: { kind: 'unavailable', message: 'bad gateway', status: 502 } });
    const mailer = new ScriptedMailer([unavailable, accepted]);
    const { run, errors } = lane(store, mailer, new RecordingLimiter(), clock);
    expect(await run()).toEqual({ next: 'stop' });
    expect(store.retries).toHaveLength(1);
    const [retry] = store.retries;
    expect(retry!.countsAsAttempt).toBe(true);
    // baseSeconds 1 with ±20% jitter; the lane waited it out in place.
    expect(retry!.delaySeconds).toBeGreaterThanOrEqual(0.8);
    expect(retry!.delaySeconds).toBeLessThanOrEqual(1.2);
    expect(clock.slept).toHaveLength(1);
    expect(clock.slept[0]).toBe(Math.ceil(retry!.delaySeconds * 1000));
    expect(mailer.batches.map((b) => b.key)).toEqual(['send-7-batch-0', 'send-7-batch-0']);
    expect(JSON.stringify(mailer.batches[1]!.messages)).toBe(JSON.stringify(mailer.batches[0]!.messages));
    expect(store.batches[0]).toMatchObject({ status: 'posted', attempts: 2 });
    expect(errors).toEqual([expect.objectContaining({ batch: 0, attempt: 1, reason: '502: bad gateway' })]);
  });

  it('gives up after the last attempt, and the send fails', async () => {
    const clock = new VirtualClock();
    const store = new MemoryStore(clock, [deliveries('a@example.com')]);
    const unavailable = (): BatchResult => ({ ok: false, error: { kind: 'unavailable', message: 'timeout' } });
    const mailer = new ScriptedMailer([unavailable, unavailable]);
    expect(await lane(store, mailer, new RecordingLimiter(), clock, { maxAttempts: 2, baseSeconds: 1, maxSeconds: 1 }).run()).toEqual({
      next: 'stop',
    });
    expect(mailer.batches).toHaveLength(2);
    expect(store.batches[0]).toMatchObject({ status: 'failed', error: 'no answer: timeout' });
    expect(store.status).toBe('failed');
  });

  it('hands a long backoff back to the queue instead of sleeping through it', async () => {
    const clock = new VirtualClock();
    const store = new MemoryStore(clock, [deliveries('a@example.com')]);
    const mailer = new ScriptedMailer([() => ({ ok: false, error: { kind: 'unavailable', message: 'down', status: 503 } })]);
    const outcome = await lane(store, mailer, new RecordingLimiter(), clock, { maxAttempts: 3, baseSeconds: 60, maxSeconds: 60 }).run();
    expect(outcome).toEqual({ next: 'at', at: new Date(store.batches[0]!.dueAt) });
    expect(clock.slept).toEqual([]);
  });

  it('posts nothing when the send is cancelled while the lane waits for its rate slot', async () => {
    const clock = new VirtualClock();
    const store = new MemoryStore(clock, [deliveries('a@example.com'), deliveries('b@example.com')]);
    const mailer = new ScriptedMailer([]);
    const limiter = new RecordingLimiter(() => {
      store.cancel(); // staff pressed cancel during the wait
      return 800;
    });
    expect(await lane(store, mailer, limiter, clock).run()).toEqual({ next: 'stop' });
    expect(mailer.batches).toEqual([]);
    // The claimed batch went back as cancelled, its attempt not counted; the other was never claimed.
    expect(store.batches.map((b) => [b.status, b.attempts])).toEqual([
      ['cancelled', 0],
      ['cancelled', 0],
    ]);
    expect(store.status).toBe('cancelled');
  });

  it('does not re-check the status after a slot that came at once', async () => {
    const clock = new VirtualClock();
    const store = new MemoryStore(clock, [deliveries('a@example.com')]);
    let checks = 0;
    const stillSending = store.stillSending.bind(store);
    store.stillSending = async (b) => (checks++, stillSending(b));
    await lane(store, new ScriptedMailer([accepted]), new RecordingLimiter(() => 0), clock).run();
    expect(checks).toBe(0);
  });
});

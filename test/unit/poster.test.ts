import { describe, expect, it } from 'vitest';
import { postBatch, type BatchSink, type PostableBatch, type PostedOutcome } from '../../src/domain/sending/poster.ts';
import type { RateLimiter } from '../../src/lib/mail-rate.ts';
import type { BatchResult, EmailMessage, Mailer, SendResult } from '../../src/lib/mailer/port.ts';

/**
 * The poster shared by the send engine and the automation engine, with in-memory fakes: what
 * reaches the mailer under which key, and what the sink is told. The send engine's own tests
 * (send-engine.test.ts) cover the batch path through its lane; these cover the paths the
 * automation engine adds (a batch of one as that member's email) and those both share.
 */
interface Batch {
  id: string;
}

class Sink implements BatchSink<Batch> {
  calls: string[] = [];
  outcome?: PostedOutcome;
  running = true;
  async markPosted(_b: Batch, outcome: PostedOutcome) {
    this.calls.push('posted');
    this.outcome = outcome;
  }
  async stillRunning() {
    this.calls.push('checked');
    return this.running;
  }
  async retryLater(_b: Batch, _o: string, error: string, delay: number, counts: boolean) {
    // Backoff is 4 s ± 20 % jitter here (baseSeconds 4, first attempt).
    this.calls.push(
      `retry ${delay === 0 ? 'at once' : delay >= 3.2 && delay <= 4.8 ? 'in ~4s' : `in ${delay}s`} ${counts ? 'counted' : 'not counted'}: ${error}`,
    );
  }
  async giveUp(_b: Batch, _o: string, error: string) {
    this.calls.push(`gave up: ${error}`);
  }
}

function mailer(single: () => SendResult, batch: () => BatchResult = () => ({ ok: true, ids: [], rejected: [] })) {
  const keys: string[] = [];
  const m: Mailer = {
    provider: 'resend',
    async send(_message, options) {
      keys.push(`send ${options?.idempotencyKey}`);
      return single();
    },
    async sendBatch(messages, options) {
      keys.push(`batch ${options.idempotencyKey} ×${messages.length}`);
      return batch();
    },
  };
  return { m, keys };
}

const limiter = (waitedMs = 0) => {
  const l = { heldOff: [] as number[], acquired: 0 } as RateLimiter & { heldOff: number[]; acquired: number };
  l.acquire = async () => {
    l.acquired += 1;
    return { waitedMs };
  };
  l.holdOff = async (s: number) => {
    l.heldOff.push(s);
  };
  return l;
};

const message = (to: string): EmailMessage => ({ from: 'a@example.com', to: [to], subject: 's', html: '<p>h</p>', text: 'h' });
const postable = (attempts: number, soloAsEmail: boolean): PostableBatch => ({
  attempts,
  key: 'automation-1-step-2-batch-3',
  memberKey: (i) => `automation-1-step-2-member-${10 + i}`,
  soloAsEmail,
  log: { message: 'automation batch failed', fields: {} },
});
const retry = { maxAttempts: 2, baseSeconds: 4, maxSeconds: 60 };

describe('postBatch', () => {
  it('posts a batch of one as that member’s email, under the member key', async () => {
    const sink = new Sink();
    const { m, keys } = mailer(() => ({ ok: true, id: 're_1' }));
    await postBatch({ mailer: m, limiter: limiter(), retry, owner: 'w' }, sink, { id: '3' }, postable(1, true), [message('a@x.com')]);
    expect(keys).toEqual(['send automation-1-step-2-member-10']);
    expect(sink.outcome).toEqual({ ids: ['re_1'], rejected: [] });
  });

  it('a 429 holds everyone off and is not counted; a 5xx is, with backoff; the last attempt gives up', async () => {
    for (const [result, attempts, expected] of [
      [
        { ok: false, error: { kind: 'rate_limited', message: 'slow', status: 429, retryAfterSeconds: 7 } },
        1,
        'retry at once not counted: rate limited: slow',
      ],
      [{ ok: false, error: { kind: 'unavailable', message: 'down', status: 503 } }, 1, 'retry in ~4s counted: 503: down'],
      [{ ok: false, error: { kind: 'unavailable', message: 'down', status: 503 } }, 2, 'gave up: 503: down'],
    ] as const) {
      const sink = new Sink();
      const l = limiter();
      const { m } = mailer(() => result as SendResult);
      await postBatch({ mailer: m, limiter: l, retry, owner: 'w' }, sink, { id: '3' }, postable(attempts, true), [message('a@x.com')]);
      expect(sink.calls).toEqual([expected]);
      expect(l.heldOff).toEqual(result.error.kind === 'rate_limited' ? [7] : []);
    }
  });

  it('posts a batch refused as a whole one email at a time under member keys, rejecting only the bad one', async () => {
    const sink = new Sink();
    let n = 0;
    const { m, keys } = mailer(
      () => (++n === 2 ? { ok: false, error: { kind: 'invalid', message: 'bad to', status: 422 } } : { ok: true, id: `re_${n}` }),
      () => ({ ok: false, error: { kind: 'invalid', message: 'bad to', status: 422 } }),
    );
    const l = limiter();
    await postBatch({ mailer: m, limiter: l, retry, owner: 'w' }, sink, { id: '3' }, postable(1, true), [
      message('a@x.com'),
      message('bad'),
      message('c@x.com'),
    ]);
    expect(keys).toEqual([
      'batch automation-1-step-2-batch-3 ×3',
      'send automation-1-step-2-member-10',
      'send automation-1-step-2-member-11',
      'send automation-1-step-2-member-12',
    ]);
    expect(sink.outcome).toEqual({ ids: ['re_1', null, 're_3'], rejected: [{ index: 1, message: 'bad to' }] });
    expect(l.acquired).toBe(4);
  });

  it('hands the batch back unposted when it may no longer go after a real wait for its slot', async () => {
    const sink = new Sink();
    sink.running = false;
    const { m, keys } = mailer(() => ({ ok: true, id: 're_1' }));
    await postBatch({ mailer: m, limiter: limiter(500), retry, owner: 'w' }, sink, { id: '3' }, postable(1, true), [message('a@x.com')]);
    expect(keys).toEqual([]);
    expect(sink.calls).toEqual(['checked']);
  });
});

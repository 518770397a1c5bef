import { execFileSync } from 'node:child_process';
import { createHmac, createSign, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isSuppressed } from '../../src/domain/members/suppression.ts';
import { prepareSend } from '../../src/domain/sending/prepare.ts';
import { createSend, getSend } from '../../src/domain/sending/sends.ts';
import { snsStringToSign, type SnsMessage } from '../../src/lib/mailer/inbound.ts';
import { mailgunWebhook, postmarkWebhook, sesWebhook, type InboundMailDeps } from '../../src/web/mail-webhooks.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { makePost, seedAudience } from '../helpers/sending.ts';

/**
 * The SMTP relays' bounce and complaint webhooks, called in-process with real Requests on a real
 * database. SES's SNS signatures are real RSA signatures: the test makes a key and a self-signed
 * certificate with openssl, and the certificate "download" serves it for one amazonaws.com URL;
 * every other check (the host, the topic, the signature, the certificate's dates) is the production code.
 */
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:hearth-ses-events';
const CERT_URL = 'https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0000test.pem';
const POSTMARK_TOKEN = 'postmark-token-0123456789abcdef';
const MAILGUN_KEY = 'key-mailgun-signing-0123456789';

let t: TestDatabase;
let sendId: string;
const member: Record<string, string> = {};
let privateKey: string;
let certPem: string;
const fetched: string[] = [];

function deps(overrides: Partial<InboundMailDeps['config']> = {}): InboundMailDeps {
  return {
    db: t.db,
    config: { sesTopicArns: [TOPIC], postmarkToken: POSTMARK_TOKEN, mailgunSigningKey: MAILGUN_KEY, ...overrides },
    fetchCert: async (url) => {
      fetched.push(url);
      if (url !== CERT_URL) throw new Error(`no certificate at ${url}`);
      return certPem;
    },
  };
}

const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  new Request(`https://news.example.com${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });

function snsMessage(fields: Partial<SnsMessage> & { Type: string }, options: { key?: string; version?: '1' | '2' } = {}): SnsMessage {
  const m = {
    MessageId: `msg-${randomBytes(6).toString('hex')}`,
    TopicArn: TOPIC,
    Message: '',
    Timestamp: new Date().toISOString(),
    SignatureVersion: options.version ?? '2',
    SigningCertURL: CERT_URL,
    Signature: '',
    ...fields,
  } as SnsMessage;
  const signer = createSign(m.SignatureVersion === '1' ? 'RSA-SHA1' : 'RSA-SHA256');
  signer.update(snsStringToSign(m)!, 'utf8');
  m.Signature = signer.sign(options.key ?? privateKey, 'base64');
  return m;
}

function sesNotification(notification: Record<string, unknown>): SnsMessage {
  return snsMessage({ Type: 'Notification', Message: JSON.stringify(notification) });
}

const sesMail = (address: string, tags = true) => ({
  timestamp: new Date().toISOString(),
  messageId: '010001-ses-id',
  source: 'letters@news.example.com',
  destination: [address],
  ...(tags ? { tags: { hearth_send: [sendId], hearth_member: [member[address]!], 'ses:configuration-set': ['hearth'] } } : {}),
});

const delivery = (address: string) =>
  t.db
    .selectFrom('deliveries')
    .select(['bounced_at', 'complained_at', 'delayed_at', 'delivered_at'])
    .where('send_id', '=', sendId)
    .where('member_id', '=', member[address]!)
    .executeTakeFirstOrThrow();
const statusOf = async (address: string) =>
  (await t.db.selectFrom('members').select('status').where('email', '=', address).executeTakeFirstOrThrow()).status;

beforeAll(async () => {
  t = await createTestDatabase();
  await seedAudience(t.db, 30);
  for (const m of await t.db.selectFrom('members').select(['id', 'email']).execute()) member[m.email] = m.id;
  const send = await createSend(t.db, { postId: await makePost(t.db), segment: { newsletters: ['weekly'] }, undoSeconds: 0 });
  sendId = send.id;
  expect(await prepareSend(t.db, { siteUrl: 'https://news.example.com', from: 'letters@news.example.com' }, sendId)).toBe('prepared');
  const dir = mkdtempSync(join(tmpdir(), 'hearth-sns-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=sns.amazonaws.com',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    privateKey = readFileSync(join(dir, 'key.pem'), 'utf8');
    certPem = readFileSync(join(dir, 'cert.pem'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
beforeEach(() => {
  fetched.length = 0;
});
afterAll(async () => {
  await t?.drop();
});

describe('POST /webhooks/ses (Amazon SES through SNS)', () => {
  it('records a permanent bounce once: the delivery, the send counter, the member and the suppression', async () => {
    const address = 'reader1@example.com';
    const body = JSON.stringify(
      sesNotification({
        notificationType: 'Bounce',
        bounce: {
          bounceType: 'Permanent',
          bounceSubType: 'General',
          bouncedRecipients: [{ emailAddress: address, action: 'failed', status: '5.1.1', diagnosticCode: 'smtp; 550 5.1.1 user unknown' }],
          timestamp: new Date().toISOString(),
          feedbackId: '0100-feedback',
        },
        mail: sesMail(address),
      }),
    );
    const res = await sesWebhook(post('/webhooks/ses', body, { 'x-amz-sns-message-type': 'Notification' }), deps());
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: true, outcome: 'recorded' });
    expect((await delivery(address)).bounced_at).not.toBeNull();
    expect((await getSend(t.db, sendId)).bounced).toBe(1);
    expect(await statusOf(address)).toBe('bounced');
    expect(await isSuppressed(t.db, address)).toBe('bounced');
    expect(fetched).toEqual([CERT_URL]);
    // SNS retries deliver the same notification again: nothing moves twice.
    const again = await sesWebhook(post('/webhooks/ses', body), deps());
    expect(await again.json()).toEqual({ received: true, outcome: 'duplicate' });
    expect((await getSend(t.db, sendId)).bounced).toBe(1);
  });

  it('records a complaint from identity notifications (tags read from the original headers), signed with SignatureVersion 1', async () => {
    const address = 'reader2@example.com';
    const message = {
      notificationType: 'Complaint',
      complaint: { complainedRecipients: [{ emailAddress: address }], timestamp: new Date().toISOString(), complaintFeedbackType: 'abuse' },
      mail: {
        ...sesMail(address, false),
        headers: [{ name: 'X-SES-MESSAGE-TAGS', value: `hearth_send=${sendId}, hearth_member=${member[address]}` }],
      },
    };
    const signed = snsMessage({ Type: 'Notification', Message: JSON.stringify(message) }, { version: '1' });
    const res = await sesWebhook(post('/webhooks/ses', JSON.stringify(signed)), deps());
    expect(res.status).toBe(200);
    expect((await delivery(address)).complained_at).not.toBeNull();
    expect(await statusOf(address)).toBe('complained');
    expect(await isSuppressed(t.db, address)).toBe('complained');
  });

  it('counts a transient bounce as a delay and leaves the member alone', async () => {
    const address = 'reader3@example.com';
    const body = JSON.stringify(
      sesNotification({
        eventType: 'Bounce',
        bounce: {
          bounceType: 'Transient',
          bounceSubType: 'MailboxFull',
          bouncedRecipients: [{ emailAddress: address }],
          timestamp: new Date().toISOString(),
        },
        mail: sesMail(address),
      }),
    );
    expect((await sesWebhook(post('/webhooks/ses', body), deps())).status).toBe(200);
    expect((await delivery(address)).delayed_at).not.toBeNull();
    expect(await statusOf(address)).toBe('active');
    expect(await isSuppressed(t.db, address)).toBeNull();
  });

  it('queues the subscription confirmation as a job (a request to AWS never runs inside the webhook)', async () => {
    const subscribeUrl = `https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=${TOPIC}&Token=abc`;
    const message = snsMessage({
      Type: 'SubscriptionConfirmation',
      Message: 'You have chosen to subscribe…',
      SubscribeURL: subscribeUrl,
      Token: 'abc',
    });
    const res = await sesWebhook(post('/webhooks/ses', JSON.stringify(message)), deps());
    expect(res.status).toBe(200);
    const jobs = await sql<{ payload: { subscribeUrl: string } }>`
      select payload from graphile_worker._private_jobs j join graphile_worker._private_tasks t on t.id = j.task_id
       where t.identifier = 'sns_confirm_subscription'`.execute(t.db);
    expect(jobs.rows.map((r) => r.payload.subscribeUrl)).toEqual([subscribeUrl]);
  });

  it('refuses forgeries with 401: another key, an altered message, a certificate off amazonaws.com, another topic', async () => {
    const address = 'reader4@example.com';
    const notification = {
      notificationType: 'Bounce',
      bounce: { bounceType: 'Permanent', bouncedRecipients: [{ emailAddress: address }], timestamp: new Date().toISOString() },
      mail: sesMail(address),
    };
    const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const wrongKey = snsMessage({ Type: 'Notification', Message: JSON.stringify(notification) }, { key: otherKey });
    const altered = { ...sesNotification({ ...notification, bounce: { ...notification.bounce, bounceType: 'Transient' } }) };
    altered.Message = JSON.stringify(notification);
    const offHost = snsMessage({
      Type: 'Notification',
      Message: JSON.stringify(notification),
      SigningCertURL: 'https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem',
    });
    const plainHttp = snsMessage({
      Type: 'Notification',
      Message: JSON.stringify(notification),
      SigningCertURL: CERT_URL.replace('https:', 'http:'),
    });
    const otherTopic = snsMessage({
      Type: 'Notification',
      Message: JSON.stringify(notification),
      TopicArn: 'arn:aws:sns:eu-west-1:999999999999:someone-else',
    });
    for (const forged of [wrongKey, altered, offHost, plainHttp, otherTopic]) {
      const res = await sesWebhook(post('/webhooks/ses', JSON.stringify(forged)), deps());
      expect(res.status).toBe(401);
    }
    // Only the messages naming SNS's own certificate address ever caused a download.
    expect(fetched.every((u) => u === CERT_URL)).toBe(true);
    expect(await statusOf(address)).toBe('active');
    expect((await delivery(address)).bounced_at).toBeNull();
  });

  it('answers 400 to a body that is not an SNS message or not an SES notification, and 404 when off', async () => {
    expect((await sesWebhook(post('/webhooks/ses', 'not json'), deps())).status).toBe(400);
    expect((await sesWebhook(post('/webhooks/ses', JSON.stringify({ Type: 'Notification' })), deps())).status).toBe(400);
    const notSes = snsMessage({ Type: 'Notification', Message: 'hello, not JSON' });
    expect((await sesWebhook(post('/webhooks/ses', JSON.stringify(notSes)), deps())).status).toBe(400);
    expect((await sesWebhook(post('/webhooks/ses', '{}'), deps({ sesTopicArns: undefined }))).status).toBe(404);
  });
});

describe('POST /webhooks/postmark', () => {
  const basic = (password: string) => ({ authorization: `Basic ${Buffer.from(`hearth:${password}`).toString('base64')}` });
  const bounce = (address: string, type = 'HardBounce') =>
    JSON.stringify({
      RecordType: 'Bounce',
      ID: 4323372036854775807,
      Type: type,
      TypeCode: type === 'HardBounce' ? 1 : 4096,
      Name: type,
      MessageID: '883953f4-6105-42a2-a16a-77a8eac79483',
      ServerID: 23,
      MessageStream: 'broadcast',
      Description: 'The server was unable to deliver your message.',
      Details: 'smtp;550 5.1.1 user unknown',
      Email: address,
      From: 'letters@news.example.com',
      BouncedAt: new Date().toISOString(),
      DumpAvailable: true,
      Inactive: type === 'HardBounce',
      CanActivate: true,
      Subject: 'A letter',
      Metadata: { hearth_send: sendId, hearth_member: member[address] },
    });

  it('records a hard bounce sent with the basic-auth secret, and a spam complaint with ?token=', async () => {
    const res = await postmarkWebhook(post('/webhooks/postmark', bounce('reader5@example.com'), basic(POSTMARK_TOKEN)), deps());
    expect(res.status).toBe(200);
    expect((await delivery('reader5@example.com')).bounced_at).not.toBeNull();
    expect(await statusOf('reader5@example.com')).toBe('bounced');

    const complaint = JSON.stringify({
      RecordType: 'SpamComplaint',
      ID: 42,
      Type: 'SpamComplaint',
      TypeCode: 100001,
      Name: 'Spam complaint',
      MessageID: '00000000-0000-0000-0000-000000000000',
      ServerID: 23,
      MessageStream: 'broadcast',
      Email: 'reader6@example.com',
      From: 'letters@news.example.com',
      BouncedAt: new Date().toISOString(),
      Inactive: true,
      Metadata: { hearth_send: sendId, hearth_member: member['reader6@example.com'] },
    });
    const viaQuery = await postmarkWebhook(post(`/webhooks/postmark?token=${POSTMARK_TOKEN}`, complaint), deps());
    expect(viaQuery.status).toBe(200);
    expect((await delivery('reader6@example.com')).complained_at).not.toBeNull();
    expect(await isSuppressed(t.db, 'reader6@example.com')).toBe('complained');
  });

  it('a soft bounce is a delay', async () => {
    expect(
      (await postmarkWebhook(post('/webhooks/postmark', bounce('reader7@example.com', 'SoftBounce'), basic(POSTMARK_TOKEN)), deps()))
        .status,
    ).toBe(200);
    expect((await delivery('reader7@example.com')).delayed_at).not.toBeNull();
    expect(await statusOf('reader7@example.com')).toBe('active');
  });

  it('refuses a wrong or missing secret with 401 and a body that is not an event with 400', async () => {
    for (const headers of [basic('postmark-token-0123456789abcdeX'), {}, { authorization: 'Bearer x' }]) {
      expect((await postmarkWebhook(post('/webhooks/postmark', bounce('reader8@example.com'), headers), deps())).status).toBe(401);
    }
    expect((await postmarkWebhook(post('/webhooks/postmark?token=nope', bounce('reader8@example.com')), deps())).status).toBe(401);
    expect(await statusOf('reader8@example.com')).toBe('active');
    expect((await postmarkWebhook(post('/webhooks/postmark', '{"no":"record type"}', basic(POSTMARK_TOKEN)), deps())).status).toBe(400);
    expect((await postmarkWebhook(post('/webhooks/postmark', '<xml/>', basic(POSTMARK_TOKEN)), deps())).status).toBe(400);
  });
});

describe('POST /webhooks/mailgun', () => {
  function signed(eventData: Record<string, unknown>, key = MAILGUN_KEY) {
    const timestamp = String(Math.floor(Date.now() / 1000));
    const token = randomBytes(25).toString('hex');
    const signature = createHmac('sha256', key)
      .update(timestamp + token)
      .digest('hex');
    return JSON.stringify({ signature: { timestamp, token, signature }, 'event-data': eventData });
  }
  const failed = (address: string, severity: 'permanent' | 'temporary') => ({
    event: 'failed',
    id: 'G9Bn5sl1TC6nu79C8C0bwg',
    timestamp: Date.now() / 1000,
    severity,
    reason: severity === 'permanent' ? 'bounce' : 'generic',
    recipient: address,
    'delivery-status': { code: severity === 'permanent' ? 550 : 452, message: 'No such user', description: '' },
    message: { headers: { to: address, 'message-id': 'abc@news.example.com', from: 'letters@news.example.com', subject: 'A letter' } },
    'user-variables': { hearth_send: sendId, hearth_member: member[address] },
  });

  it('records a permanent failure as a bounce and a temporary one as a delay', async () => {
    expect((await mailgunWebhook(post('/webhooks/mailgun', signed(failed('reader9@example.com', 'permanent'))), deps())).status).toBe(200);
    expect((await delivery('reader9@example.com')).bounced_at).not.toBeNull();
    expect(await isSuppressed(t.db, 'reader9@example.com')).toBe('bounced');
    expect((await mailgunWebhook(post('/webhooks/mailgun', signed(failed('reader10@example.com', 'temporary'))), deps())).status).toBe(200);
    expect((await delivery('reader10@example.com')).delayed_at).not.toBeNull();
    expect(await statusOf('reader10@example.com')).toBe('active');
  });

  it('records a complaint', async () => {
    const event = {
      event: 'complained',
      timestamp: Date.now() / 1000,
      recipient: 'reader11@example.com',
      'user-variables': { hearth_send: sendId, hearth_member: member['reader11@example.com'] },
    };
    expect((await mailgunWebhook(post('/webhooks/mailgun', signed(event)), deps())).status).toBe(200);
    expect(await statusOf('reader11@example.com')).toBe('complained');
  });

  it('refuses a forged signature with 401 and a body without one with 400', async () => {
    const forged = signed(failed('reader12@example.com', 'permanent'), 'key-not-the-signing-key');
    expect((await mailgunWebhook(post('/webhooks/mailgun', forged), deps())).status).toBe(401);
    const tampered = JSON.parse(signed(failed('reader13@example.com', 'temporary'))) as { signature: { timestamp: string } };
    tampered.signature.timestamp = String(Number(tampered.signature.timestamp) + 1);
    expect((await mailgunWebhook(post('/webhooks/mailgun', JSON.stringify(tampered)), deps())).status).toBe(401);
    expect(await statusOf('reader12@example.com')).toBe('active');
    expect(
      (
        await mailgunWebhook(
          post('/webhooks/mailgun', JSON.stringify({ 'event-data': failed('reader12@example.com', 'permanent') })),
          deps(),
        )
      ).status,
    ).toBe(400);
    expect((await mailgunWebhook(post('/webhooks/mailgun', 'event=failed'), deps())).status).toBe(400);
    expect((await mailgunWebhook(post('/webhooks/mailgun', '{}'), deps({ mailgunSigningKey: undefined }))).status).toBe(404);
  });
});

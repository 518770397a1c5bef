import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/**
 * A local SMTP relay for tests (the `smtp-server` package): the real nodemailer transport of
 * the SMTP adapter talks to it. It records every message it accepts (parsed with mailparser,
 * or, `light`, only its Message-ID and recipients), and can refuse an address for good (550),
 * defer the next messages (451), or drop the connection after the data, without answering.
 */
export interface ReceivedEmail {
  messageId: string;
  /** The envelope's recipients (RCPT TO). */
  to: string[];
  from: string;
  parsed?: ParsedMail;
}

export type SmtpFault =
  /** 451 to the end of the data: "try again later". */
  | { kind: 'defer' }
  /** Takes the data, then closes the connection without a reply (the client cannot know). */
  | { kind: 'drop' };

export interface SmtpTestServer {
  url: string;
  port: number;
  received: ReceivedEmail[];
  /** RCPT TO this address is refused with 550. */
  rejectAddress(address: string): void;
  /** The next n messages meet this fault. */
  failNext(fault: SmtpFault, n?: number): void;
  clearFaults(): void;
  countByRecipient(): Map<string, number>;
  close(): Promise<void>;
}

function headerMessageId(raw: string): string {
  const head = raw.slice(0, raw.search(/\r?\n\r?\n/) >>> 0 || raw.length);
  return /^message-id:\s*(<[^>]+>)/im.exec(head)?.[1] ?? '';
}

export async function startSmtpTestServer(options: { light?: boolean; user?: string; pass?: string } = {}): Promise<SmtpTestServer> {
  const received: ReceivedEmail[] = [];
  const rejected = new Set<string>();
  let faults: SmtpFault[] = [];
  const server = new SMTPServer({
    // Plain SMTP on loopback: no TLS certificate to make; nodemailer sends without STARTTLS when none is offered.
    disabledCommands: ['STARTTLS'],
    authOptional: options.user === undefined,
    logger: false,
    size: 10 * 1024 * 1024,
    onAuth(auth, _session, callback) {
      if (auth.username === options.user && auth.password === options.pass) return callback(null, { user: auth.username });
      return callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    onRcptTo(address, _session, callback) {
      if (rejected.has(address.address.toLowerCase())) {
        return callback(Object.assign(new Error('5.1.1 Mailbox does not exist'), { responseCode: 550 }));
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const fault = faults.shift();
        if (fault?.kind === 'defer') return callback(Object.assign(new Error('4.3.0 Try again later'), { responseCode: 451 }));
        const raw = Buffer.concat(chunks).toString('utf8');
        const envelope = session.envelope;
        const email: ReceivedEmail = {
          messageId: headerMessageId(raw),
          to: envelope.rcptTo.map((r) => r.address.toLowerCase()),
          from: envelope.mailFrom ? envelope.mailFrom.address : '',
        };
        if (fault?.kind === 'drop') {
          // The relay keeps the message, but the client never hears so.
          received.push(email);
          for (const connection of server.connections) if (connection.id === session.id) connection._socket.destroy();
          return;
        }
        if (options.light) {
          received.push(email);
          return callback(null, `Ok: queued as ${received.length}`);
        }
        simpleParser(raw)
          .then((parsed) => {
            received.push({ ...email, parsed });
            callback(null, `Ok: queued as ${received.length}`);
          })
          .catch((err: Error) => callback(err));
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = ((server as unknown as { server: { address(): AddressInfo } }).server.address() as AddressInfo).port;
  const auth = options.user === undefined ? '' : `${encodeURIComponent(options.user)}:${encodeURIComponent(options.pass ?? '')}@`;
  return {
    url: `smtp://${auth}127.0.0.1:${port}`,
    port,
    received,
    rejectAddress: (address) => rejected.add(address.toLowerCase()),
    failNext(fault, n = 1) {
      for (let i = 0; i < n; i++) faults.push(fault);
    },
    clearFaults() {
      faults = [];
      rejected.clear();
    },
    countByRecipient() {
      const counts = new Map<string, number>();
      for (const e of received) for (const to of e.to) counts.set(to, (counts.get(to) ?? 0) + 1);
      return counts;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

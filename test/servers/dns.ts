import { createSocket, type Socket } from 'node:dgram';
import packet from 'dns-packet';

/**
 * A real DNS server over UDP for tests (the install checklist's lookups): it answers TXT and CNAME
 * questions from a table the test edits while it runs. A name in the table without a record of the
 * asked type is NODATA; a name not in it is NXDOMAIN. `silent` makes it read questions and never
 * answer, as a dead resolver does.
 */
export interface DnsRecords {
  txt?: string[];
  cname?: string;
}

export interface DnsTestServer {
  /** `127.0.0.1:port`, as DNS_SERVERS takes it. */
  address: string;
  port: number;
  /** name (any case, no trailing dot) → records. */
  records: Map<string, DnsRecords>;
  /** Questions received, in order ("TXT send.example.org"). */
  questions: string[];
  /** When each of `questions` arrived (ms, Date.now()): asked at once or one after another. */
  askedAt: number[];
  silent: boolean;
  close(): Promise<void>;
}

/** A TXT string as DNS carries it: character-strings of at most 255 bytes. */
function chunks(value: string): Buffer[] {
  const bytes = Buffer.from(value);
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 255) out.push(bytes.subarray(i, i + 255));
  return out.length ? out : [Buffer.alloc(0)];
}

const NXDOMAIN = 3;

export async function startDnsTestServer(): Promise<DnsTestServer> {
  const socket: Socket = createSocket('udp4');
  const server: DnsTestServer = {
    address: '',
    port: 0,
    records: new Map(),
    questions: [],
    askedAt: [],
    silent: false,
    close: () => new Promise((r) => socket.close(() => r())),
  };
  socket.on('message', (message, peer) => {
    let query: packet.Packet;
    try {
      query = packet.decode(message);
    } catch {
      return; // not DNS: ignore, as a server would
    }
    const question = query.questions?.[0];
    if (!question) return;
    const name = question.name.replace(/\.$/, '');
    server.questions.push(`${question.type} ${name}`);
    server.askedAt.push(Date.now());
    if (server.silent) return;
    const entry = server.records.get(name.toLowerCase());
    const answers: packet.Answer[] = [];
    if (entry?.cname && (question.type === 'CNAME' || question.type === 'TXT')) {
      answers.push({ type: 'CNAME', name: question.name, ttl: 60, data: entry.cname });
    } else if (entry?.txt && question.type === 'TXT') {
      for (const value of entry.txt) answers.push({ type: 'TXT', name: question.name, ttl: 60, data: chunks(value) });
    }
    const reply = packet.encode({
      type: 'response',
      id: query.id ?? 0,
      flags: packet.AUTHORITATIVE_ANSWER | packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE | (entry ? 0 : NXDOMAIN),
      questions: query.questions ?? [],
      answers,
    });
    socket.send(reply, peer.port, peer.address);
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  server.port = socket.address().port;
  server.address = `127.0.0.1:${server.port}`;
  return server;
}

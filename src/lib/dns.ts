import { Resolver } from 'node:dns/promises';

/**
 * DNS lookups for the install checklist: TXT and CNAME records through `node:dns`'s Resolver,
 * pointed at DNS_SERVERS when set (tests run a local server), each bounded by a short timeout so a
 * server that never answers gives "could not check" instead of a page that hangs.
 *
 * No reader request calls this: only staff pages (the dashboard and /admin/checklist).
 */
export type DnsAnswer =
  /** The name has records of that type (TXT: each record's strings joined). */
  | { kind: 'found'; values: string[] }
  /** The server answered: no such name, or no record of that type. */
  | { kind: 'none' }
  /** No answer in time, or the server failed: nothing is known. */
  | { kind: 'unknown'; reason: string };

export interface DnsLookup {
  txt(name: string): Promise<DnsAnswer>;
  cname(name: string): Promise<DnsAnswer>;
}

const NO_RECORD = new Set(['ENODATA', 'ENOTFOUND', 'NXDOMAIN']);

export function createDnsLookup(options: { servers?: string[] | undefined; timeoutMs?: number } = {}): DnsLookup {
  const timeoutMs = options.timeoutMs ?? 1500;
  // c-ares's own timeout (per try, one try) and a hard stop of our own on top: the whole lookup,
  // whatever the resolver does, ends within timeoutMs.
  const resolver = new Resolver({ timeout: timeoutMs, tries: 1 });
  if (options.servers?.length) resolver.setServers(options.servers);

  async function ask(name: string, query: (n: string) => Promise<string[]>): Promise<DnsAnswer> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<DnsAnswer>((resolveTimeout) => {
      timer = setTimeout(() => resolveTimeout({ kind: 'unknown', reason: `no answer within ${timeoutMs / 1000} s` }), timeoutMs);
    });
    const answer = query(name).then(
      (values): DnsAnswer => (values.length ? { kind: 'found', values } : { kind: 'none' }),
      (err: NodeJS.ErrnoException): DnsAnswer =>
        NO_RECORD.has(String(err.code)) ? { kind: 'none' } : { kind: 'unknown', reason: String(err.code ?? err.message) },
    );
    try {
      return await Promise.race([answer, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    txt: (name) => ask(name, async (n) => (await resolver.resolveTxt(n)).map((chunks) => chunks.join(''))),
    cname: (name) => ask(name, (n) => resolver.resolveCname(n)),
  };
}

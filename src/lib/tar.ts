/**
 * A minimal ustar (POSIX tar) writer and reader for the site archive (src/domain/backup/): plain
 * files only, names up to 100 bytes (the archive's own names are short), each header checked
 * by its checksum. Small enough to own, and `tar -tzf` reads what it writes.
 */
const BLOCK = 512;

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

/** The 512-byte header of a regular file. */
export function tarHeader(name: string, size: number, mtime: Date = new Date()): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  if (nameBytes.length === 0 || nameBytes.length > 100) throw new Error(`tar: name "${name}" must be 1 to 100 bytes`);
  const header = Buffer.alloc(BLOCK, 0);
  nameBytes.copy(header, 0);
  header.write(octal(0o644, 8), 100, 'ascii');
  header.write(octal(0, 8), 108, 'ascii');
  header.write(octal(0, 8), 116, 'ascii');
  header.write(octal(size, 12), 124, 'ascii');
  header.write(octal(Math.floor(mtime.getTime() / 1000), 12), 136, 'ascii');
  header.write('        ', 148, 'ascii');
  header.write('0', 156, 'ascii');
  header.write('ustar\0', 257, 'ascii');
  header.write('00', 263, 'ascii');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return header;
}

/** Zero bytes that pad a file's body to a whole block. */
export function tarPadding(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK - rest, 0);
}

/** The two empty blocks that end an archive. */
export const TAR_END = Buffer.alloc(BLOCK * 2, 0);

/** One whole entry (header, body, padding) for a body already in memory. */
export function tarEntry(name: string, body: Buffer, mtime?: Date): Buffer[] {
  return [tarHeader(name, body.length, mtime), body, tarPadding(body.length)];
}

export class TarError extends Error {}

/** Reads exact byte counts from a stream of chunks, holding at most one chunk beyond what is asked. */
class ByteReader {
  private buffered: Buffer[] = [];
  private length = 0;
  private done = false;
  private readonly source: AsyncIterator<Buffer>;
  constructor(source: AsyncIterator<Buffer>) {
    this.source = source;
  }

  private async fill(n: number): Promise<boolean> {
    while (this.length < n && !this.done) {
      const next = await this.source.next();
      if (next.done) this.done = true;
      else {
        this.buffered.push(next.value);
        this.length += next.value.length;
      }
    }
    return this.length >= n;
  }

  /** Exactly n bytes, or fewer only at the end of the stream. */
  async read(n: number): Promise<Buffer> {
    await this.fill(n);
    const all = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered);
    const out = all.subarray(0, Math.min(n, all.length));
    const rest = all.subarray(out.length);
    this.buffered = rest.length > 0 ? [rest] : [];
    this.length = rest.length;
    return out;
  }

  /** Up to max bytes (at least one unless the stream ended): for streaming a body. */
  async readSome(max: number): Promise<Buffer> {
    await this.fill(1);
    return this.read(Math.min(max, this.length));
  }
}

export interface TarEntry {
  name: string;
  size: number;
  /** The body in chunks; must be read (or skipped with drain) before the next entry. */
  body: AsyncGenerator<Buffer>;
}

function parseOctal(field: Buffer): number {
  const text = field
    .toString('ascii')
    .replace(/[\0 ]+$/g, '')
    .trim();
  if (!/^[0-7]+$/.test(text)) throw new TarError('a tar header has a bad number');
  return parseInt(text, 8);
}

/**
 * The entries of a tar stream, one at a time. Throws TarError on a bad header checksum, an
 * entry cut short, or a stream that ends without the end-of-archive blocks.
 */
export async function* readTar(source: AsyncIterable<Buffer>): AsyncGenerator<TarEntry> {
  const reader = new ByteReader(source[Symbol.asyncIterator]());
  for (;;) {
    const header = await reader.read(BLOCK);
    if (header.length < BLOCK) throw new TarError('the archive ends in the middle (no end-of-archive blocks)');
    if (header.every((b) => b === 0)) return;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : header[i]!;
    if (sum !== parseOctal(header.subarray(148, 156))) throw new TarError('a tar header is damaged (checksum)');
    const type = String.fromCharCode(header[156]!);
    const prefix = header.subarray(345, 500).toString('utf8').replace(/\0.*$/s, '');
    const base = header.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    const name = prefix ? `${prefix}/${base}` : base;
    const size = parseOctal(header.subarray(124, 136));
    let remaining = size;
    const body = (async function* () {
      while (remaining > 0) {
        const chunk = await reader.readSome(Math.min(remaining, 1 << 20));
        if (chunk.length === 0) throw new TarError(`the archive ends in the middle of ${name}`);
        remaining -= chunk.length;
        yield chunk;
      }
    })();
    if (type === '0' || type === '\0') yield { name, size, body };
    // Whatever the consumer left unread, and the padding.
    while (remaining > 0) {
      const chunk = await reader.readSome(Math.min(remaining, 1 << 20));
      if (chunk.length === 0) throw new TarError(`the archive ends in the middle of ${name}`);
      remaining -= chunk.length;
    }
    const pad = tarPadding(size).length;
    if (pad > 0 && (await reader.read(pad)).length < pad) throw new TarError('the archive ends in the middle');
  }
}

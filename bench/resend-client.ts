import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

/** Starts bench/resend-process.ts and wraps its IPC. */
export interface RemoteResend {
  url: string;
  stats(): Promise<{
    received: number;
    duplicates: number;
    throttled: number;
    requests: number;
    firstAccepted: number | null;
    lastAccepted: number | null;
    accepted: number;
  }>;
  throttle(rps: number | null): Promise<void>;
  close(): Promise<void>;
}

export async function startRemoteResend(): Promise<RemoteResend> {
  const child: ChildProcess = fork(join(import.meta.dirname, 'resend-process.ts'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = <T>() => new Promise<T>((resolve) => child.once('message', (m) => resolve(m as T)));
  const { url } = await next<{ url: string }>();
  return {
    url,
    async stats() {
      const answer = next<Awaited<ReturnType<RemoteResend['stats']>>>();
      child.send({ cmd: 'stats' });
      return answer;
    },
    async throttle(rps) {
      const answer = next<unknown>();
      child.send({ cmd: 'throttle', rps });
      await answer;
    },
    async close() {
      const exited = new Promise((r) => child.once('exit', r));
      child.send({ cmd: 'close' });
      await exited;
    },
  };
}

/**
 * The server's own cost of one live-feed tick (issue 20), apart from everything else: a plain
 * node:http server in this process with N server-sent-event responses open (clients in a separate
 * process under SCHED_IDLE, reading and counting bytes), and the same tick's bytes handed to every
 * response, synchronously, in two ways, alternated:
 *
 *   res.write    `res.write(tickBuffer)`: the response frames it as an HTTP chunk (corks the socket,
 *                writes the length line, the bytes and CRLF, uncorks in a nextTick: one writev)
 *   socket.write the chunk framed once per tick (length line, bytes, CRLF in one Buffer), written
 *                to the response's socket: one write, no per-client framing (src/live-routes.ts)
 *
 * Per tick: the wall time of the hand-out (including the nextTick uncorks), the process's CPU
 * time (user + system: the write syscalls, and on loopback the kernel's receive work for them) and
 * the bytes the clients counted. Between ticks a pause lets the clients read (their sockets start
 * each tick empty, as at 4 ticks a second). Nothing of Hearth runs here: the figure is the floor
 * of what a tick costs per client on this machine.
 *
 * Usage: node bench/live-fanout.ts [clients=200] [ticks=400] [facts per tick=12]
 */
import { spawn } from 'node:child_process';
import { createServer, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

const CLIENTS = Number(process.argv[2] ?? 200);
const TICKS = Number(process.argv[3] ?? 400);
const FACTS = Number(process.argv[4] ?? 12);

const responses: ServerResponse[] = [];
const server = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
  res.write('retry: 2000\n\n');
  responses.push(res);
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const port = (server.address() as { port: number }).port;

const clientCode = `
  const { request } = require('node:http');
  let bytes = 0, open = 0;
  for (let i = 0; i < ${CLIENTS}; i++) {
    request({ host: '127.0.0.1', port: ${port}, path: '/' }, (res) => {
      if (++open === ${CLIENTS}) process.send('ready');
      res.on('data', (d) => { bytes += d.length; });
    }).end();
  }
  process.on('message', () => { process.send(bytes); });
`;
const child = spawn('chrt', ['--idle', '0', process.execPath, '-e', clientCode], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
await new Promise((r) => child.once('message', r));
await new Promise((r) => setTimeout(r, 500));
const counted = () =>
  new Promise<number>((r) => {
    child.once('message', (m) => r(Number(m)));
    child.send('count');
  });

let seq = 1_000;
function tick(): Buffer {
  let text = '';
  for (let i = 0; i < FACTS; i++) {
    seq++;
    text += `id: ${seq}\nevent: member.created\ndata: ${JSON.stringify({ id: String(seq), platform: 'instagram', at: new Date().toISOString() })}\n\n`;
  }
  return Buffer.from(text);
}
const CRLF = Buffer.from('\r\n');
const framed = (b: Buffer) => Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, CRLF]);

type Method = 'res.write' | 'socket.write';
async function run(method: Method, ticks: number) {
  const wall: number[] = [];
  const cpu: number[] = [];
  let sent = 0;
  const before = await counted();
  for (let t = 0; t < ticks; t++) {
    const payload = tick();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    if (method === 'res.write') {
      for (const res of responses) res.write(payload);
      await new Promise<void>((r) => setImmediate(r)); // the nextTick uncorks have run
      sent += payload.length * responses.length;
    } else {
      const bytes = framed(payload);
      for (const res of responses) (res.socket as Socket).write(bytes);
      await new Promise<void>((r) => setImmediate(r));
      sent += payload.length * responses.length;
    }
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    await new Promise((r) => setTimeout(r, 15));
  }
  await new Promise((r) => setTimeout(r, 300));
  const got = (await counted()) - before;
  const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
  const perClient = (ms: number) => Number(((ms * 1000) / responses.length).toFixed(2));
  return {
    method,
    tickWallMsP50: Number(q(wall, 50).toFixed(3)),
    tickWallMsP99: Number(q(wall, 99).toFixed(3)),
    tickCpuMsP50: Number(q(cpu, 50).toFixed(3)),
    perClientWallUsP50: perClient(q(wall, 50)),
    perClientCpuUsP50: perClient(q(cpu, 50)),
    // the clients count framing too (chunk lines): at least the payload must have arrived
    payloadBytes: sent,
    clientBytes: got,
  };
}

await run('res.write', 50); // warm both paths
await run('socket.write', 50);
const results = [];
for (let round = 0; round < 3; round++) {
  results.push(await run('res.write', TICKS / 2 / 3));
  results.push(await run('socket.write', TICKS / 2 / 3));
}
console.log(JSON.stringify({ figure: 'one live tick handed to N SSE responses', clients: CLIENTS, factsPerTick: FACTS, results }, null, 1));
child.kill();
server.closeAllConnections();
server.close();

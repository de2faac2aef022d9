// Server side of the Queue page under load: 100 people at once loading the queue (its server function),
// approving jobs and reordering them, against the real server on 127.0.0.1 with a demo farm.
// Run: SERVER_BIN=… SITE_ROOT=… node end2end/bench/queue.bench.mjs [users=100] [rounds=5]
// Prints p50/p95/max per interaction. Timing only: nothing here passes or fails.
import { startServer } from '../harness.mjs';

const users = Number(process.argv[2] ?? 100);
const rounds = Number(process.argv[3] ?? 5);

const server = await startServer({ PRINTFARM_DEMO_PRINTERS: '6', PRINTFARM_DEMO_SPEED: '0.001' });
try {
  const json = async (path, init = {}) => {
    const res = await fetch(server.url + path, {
      ...init,
      headers: { 'content-type': 'application/json', ...(init.headers ?? {}) },
    });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  const fn = async (path, body) => {
    const t = performance.now();
    const res = await fetch(server.url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(body).toString(),
    });
    await res.arrayBuffer();
    return { ms: performance.now() - t, ok: res.ok };
  };
  const stats = (name, samples) => {
    const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
    const q = (p) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))].toFixed(1);
    const failed = samples.filter((s) => !s.ok).length;
    console.log(`${name.padEnd(22)} n=${ms.length} p50=${q(0.5)} ms p95=${q(0.95)} ms max=${q(1)} ms failed=${failed}`);
  };

  // A queue the size of a busy day: `users` jobs waiting for approval plus as many queued.
  const [any] = await json('/api/v1/jobs?limit=1');
  const demoKey = await server.keyFor('demo', 'teacher');
  const send = (copies) => json('/api/v1/jobs', {
    method: 'POST',
    headers: { 'x-api-key': demoKey },
    body: JSON.stringify({ model_version_id: any.model_version_id, copies, quality: 'draft' }),
  });
  await json('/api/v1/farm/settings', { method: 'PUT', body: JSON.stringify({ approval_roles: ['teacher'] }) });
  const pending = await send(Math.min(users, 100));
  await json('/api/v1/farm/settings', { method: 'PUT', body: JSON.stringify({ approval_roles: ['kiosk', 'maker'] }) });
  await send(100);
  const queue = (await json('/api/v1/queue')).map((e) => e.job.id);
  console.log(`queue: ${queue.length} waiting jobs, ${users} concurrent users, debug server build`);

  const snapshot = [];
  for (let r = 0; r < rounds; r++) {
    snapshot.push(...await Promise.all(Array.from({ length: users }, () => fn('/api/queue/snapshot', {}))));
  }
  stats('queue page (snapshot)', snapshot);

  const approve = await Promise.all(pending.map((j) => fn('/api/queue/act', { id: j.id, action: 'approve' })));
  stats('approve', approve);

  const reorder = [];
  for (let r = 0; r < rounds; r++) {
    reorder.push(...await Promise.all(Array.from({ length: users }, (_, u) => {
      const i = (u * 7 + r * 13) % queue.length;
      const j = (u * 11 + r * 5 + 1) % queue.length;
      return fn('/api/queue/place', { id: queue[i], after: queue[j], before: queue[(j + 1) % queue.length] });
    })));
  }
  stats('reorder (place)', reorder);

  const page = [];
  for (let r = 0; r < rounds; r++) {
    page.push(...await Promise.all(Array.from({ length: users }, async () => {
      const t = performance.now();
      const res = await fetch(server.url + '/queue');
      await res.arrayBuffer();
      return { ms: performance.now() - t, ok: res.ok };
    })));
  }
  stats('GET /queue (SSR page)', page);
} finally {
  await server.stop();
}

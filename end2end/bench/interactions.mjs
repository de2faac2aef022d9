// Server interactions under 100 concurrent users, against a real server (and SQLite file) on 127.0.0.1:
//   SERVER_BIN=target/debug/printfarm SITE_ROOT=target/site node end2end/bench/interactions.mjs [USERS] [ROUNDS]
// Each simulated user, in a loop: sends a model to print (POST /api/v1/jobs), reads the queue
// (GET /api/v1/queue), moves its job to the front (PATCH /api/v1/jobs/{id} before another), and
// cancels it (POST /api/v1/jobs/{id}/cancel). Prints latency percentiles per action. The product's bar
// is under 200 ms per interaction at 100 concurrent users. Use a release server for real figures.
import { startServer } from '../harness.mjs';

const USERS = Number(process.argv[2] ?? 100);
const ROUNDS = Number(process.argv[3] ?? 5);

// A 20 mm cube as ASCII STL.
const v = [[0, 0, 0], [20, 0, 0], [20, 20, 0], [0, 20, 0], [0, 0, 20], [20, 0, 20], [20, 20, 20], [0, 20, 20]];
const f = [[0, 2, 1], [0, 3, 2], [4, 5, 6], [4, 6, 7], [0, 1, 5], [0, 5, 4], [1, 2, 6], [1, 6, 5], [2, 3, 7], [2, 7, 6], [3, 0, 4], [3, 4, 7]];
const stl = 'solid c\n' + f.map((t) => 'facet normal 0 0 0\nouter loop\n' + t.map((i) => `vertex ${v[i].join(' ')}\n`).join('') +
  'endloop\nendfacet\n').join('') + 'endsolid c\n';

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(s.length * p))]; };

// Printers stay busy (speed 0.001) so jobs wait in the queue the whole time.
const server = await startServer({ PRINTFARM_DEMO_PRINTERS: '6', PRINTFARM_DEMO_SPEED: '0.001' });
try {
  const up = await fetch(`${server.url}/api/v1/models?name=cube.stl`, { method: 'POST', body: stl });
  const { version_id: version } = await up.json();
  const times = { send: [], queue: [], reorder: [], cancel: [] };
  let failures = 0;
  const timed = async (kind, url, init) => {
    const t0 = performance.now();
    const res = await fetch(url, init);
    const body = await res.text();
    times[kind].push(performance.now() - t0);
    if (!res.ok) { failures++; if (failures < 5) console.error(kind, res.status, body.slice(0, 200)); }
    return body;
  };
  const json = { 'content-type': 'application/json' };
  let anchor = null;
  const user = async (u) => {
    for (let r = 0; r < ROUNDS; r++) {
      const sent = JSON.parse(await timed('send', `${server.url}/api/v1/jobs`, {
        method: 'POST', headers: json, body: JSON.stringify({ model_version_id: version, name: `user ${u} round ${r}` }),
      }));
      const id = (Array.isArray(sent) ? sent[0] : sent)?.id ?? (Array.isArray(sent) ? sent[0]?.job?.id : undefined);
      anchor ??= id;
      await timed('queue', `${server.url}/api/v1/queue`);
      if (id && anchor && id !== anchor) {
        await timed('reorder', `${server.url}/api/v1/jobs/${id}`, { method: 'PATCH', headers: json, body: JSON.stringify({ before: anchor }) });
      }
      if (id) await timed('cancel', `${server.url}/api/v1/jobs/${id}/cancel`, { method: 'POST' });
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: USERS }, (_, u) => user(u)));
  const wall = (performance.now() - t0) / 1000;
  console.log(`${USERS} concurrent users x ${ROUNDS} rounds in ${wall.toFixed(1)} s, ${failures} failed requests`);
  for (const [kind, xs] of Object.entries(times)) {
    if (!xs.length) continue;
    console.log(`  ${kind.padEnd(8)} n=${String(xs.length).padStart(4)}  p50 ${pct(xs, 0.5).toFixed(0).padStart(4)} ms  p95 ${pct(xs, 0.95).toFixed(0).padStart(4)} ms  p99 ${pct(xs, 0.99).toFixed(0).padStart(4)} ms  max ${Math.max(...xs).toFixed(0).padStart(4)} ms`);
  }
} finally {
  await server.stop();
}

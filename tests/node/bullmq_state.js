// Puts a BullMQ queue into a state with the real npm library (as FiLot's Node backend does), for
// tests/test_gpu_worker_bullmq_node.py. Usage: node bullmq_state.js <module: bullmq | bullmq5> '<json>'
// json: {url, ca, prefix, queue, steps: [...]}; steps, in order:
//   {"add": n, "ageMs": ms, "opts": {...}}   n jobs created `ageMs` ago (the `timestamp` option)
//   {"fail": n}                              n jobs failed for real by a short-lived worker (attempts: 1)
//   {"sleepMs": ms}                          wait (an overdue delayed job needs its due time to pass)
//   {"pause": true}                          queue.pause()
//   {"worker": "name"}                       a worker that stays connected (and takes no job: concurrency
//                                            is used up by a job it never finishes) until stdin closes
// Prints one JSON line: {counts: getJobCounts(), workers: getWorkers().length, version}, then, if a
// worker was started, waits for stdin to close before closing it.
"use strict";
const fs = require("fs");
const [mod, raw] = process.argv.slice(2);
const { Queue, Worker } = require(mod);
const IORedis = require(require.resolve("ioredis", { paths: [require.resolve(mod)] }));
const cfg = JSON.parse(raw);

function connection() {
  return new IORedis(cfg.url, { tls: { ca: fs.readFileSync(cfg.ca) }, maxRetriesPerRequest: null });
}

async function until(test) {
  for (let i = 0; i < 400 && !(await test()); i++) await new Promise((r) => setTimeout(r, 25));
}

async function main() {
  const opts = { connection: connection(), prefix: cfg.prefix };
  const queue = new Queue(cfg.queue, opts);
  const keep = [];
  for (const step of cfg.steps) {
    if (step.add) {
      const at = Date.now() - (step.ageMs || 0);
      for (let i = 0; i < step.add; i++) await queue.add("ocr", { doc: i }, { timestamp: at + i, ...(step.opts || {}) });
    } else if (step.fail) {
      for (let i = 0; i < step.fail; i++) await queue.add("ocr", { doc: `bad-${i}` }, { attempts: 1 });
      const w = new Worker(cfg.queue, async () => { throw new Error("unreadable scan"); },
        { connection: connection(), prefix: cfg.prefix, name: "gpu-tmp" });
      await until(async () => (await queue.getJobCounts("failed")).failed >= step.fail);
      await w.close();
    } else if (step.sleepMs) {
      await new Promise((r) => setTimeout(r, step.sleepMs));
    } else if (step.pause) {
      await queue.pause();
    } else if (step.worker) {
      const w = new Worker(cfg.queue, () => new Promise(() => {}),
        { connection: connection(), prefix: cfg.prefix, name: step.worker });
      await w.waitUntilReady();
      keep.push(w);
      await until(async () => (await queue.getWorkers()).length >= keep.length);
    }
  }
  const meta = await opts.connection.hget(`${cfg.prefix}:${cfg.queue}:meta`, "version");
  const out = { counts: await queue.getJobCounts(), workers: (await queue.getWorkers()).length, version: meta };
  process.stdout.write(JSON.stringify(out) + "\n");
  if (keep.length) {
    await new Promise((r) => { process.stdin.on("end", r); process.stdin.resume(); });
    for (const w of keep) await w.close(true);
  }
  await queue.close();
  process.exit(0);
}

main().catch((e) => { process.stderr.write(String(e && e.stack || e) + "\n"); process.exit(1); });

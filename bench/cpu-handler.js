// A CPU-heavy echo handler for the concurrency benchmarks: every chunk is hashed
// many times (pure CPU work) and then echoed back unchanged, so the harness can
// still check every byte. Loaded by `sockit serve … -e bench/cpu-handler.js`.
import { createHash } from 'node:crypto';
import { StreamRequestHandler } from 'sockit';

const ROUNDS = Number(process.env.SOCKIT_BENCH_CPU_ROUNDS ?? 200);

export default class CpuEcho extends StreamRequestHandler {
  async handle() {
    for await (const chunk of this.rfile) {
      let digest = chunk;
      for (let i = 0; i < ROUNDS; i++) digest = createHash('sha256').update(digest).digest();
      await this.write(chunk);
    }
  }
}

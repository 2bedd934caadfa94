/**
 * A handler's failure that escapes its own promise — a timer that throws, a
 * rejection nobody awaits, a throw in a socket listener — fails that request only:
 * one line, and the server keeps serving (async and sequential modes; the pooled
 * modes run the same containment in each worker).
 */
import { describe, expect, test } from '@jest/globals';
import { fileURLToPath } from 'node:url';
import { exchange } from '../helpers/loopback.js';
import { serve, useServeTeardown } from './serve-helpers.js';

useServeTeardown();

const ESCAPES = fileURLToPath(new URL('../fixtures/handlers/escapes.mjs', import.meta.url));

describe.each(['async', 'sequential', 'threading', 'forking'])('--mode %s', (mode) => {
  test('escaped failures fail their request only; the server serves on', async () => {
    const extra = mode === 'threading' || mode === 'forking' ? ['-w', '1'] : [];
    const s = await serve(['serve', 'tcp', '0', '-e', ESCAPES, '-m', mode, ...extra]);
    for (const what of ['timer', 'reject', 'listener']) {
      const reply = await exchange({ port: s.port }, what).catch(() => Buffer.alloc(0));
      expect(reply.toString()).toBe('');
    }
    expect((await exchange({ port: s.port }, 'still here')).toString()).toBe('still here');
    await s.waitFor(/thrown in a timer/);
    await s.waitFor(/rejected, unawaited/);
    await s.waitFor(/thrown in a listener/);
    expect(s.child.exitCode).toBeNull();
    expect(s.stderr()).not.toMatch(/\n\s+at /); // no stack trace
  });
});

/**
 * runInterruptible(), the one way a client command runs: its exit code, SIGINT
 * and SIGTERM overriding it (also when the work failed because of them), other
 * failures rethrown, the stdout EPIPE watch, and everything undone afterwards.
 */
import { describe, expect, test } from '@jest/globals';
import { PassThrough } from 'node:stream';
import type { CliContext } from '../../src/cli/context.js';
import { Output } from '../../src/cli/output.js';
import { runInterruptible } from '../../src/cli/client-output.js';
import { EXIT, NetworkError } from '../../src/net/errors.js';
import { FakeSignals } from './client-helpers.js';

function context(): { ctx: CliContext; signals: FakeSignals; stdout: PassThrough } {
  const signals = new FakeSignals();
  const stdout = new PassThrough();
  const io = { stdin: new PassThrough(), stdout, stderr: new PassThrough(), env: {} };
  return { ctx: { io, out: new Output(io), exitCode: -1, signals }, signals, stdout };
}

const listeners = (s: FakeSignals): number =>
  s.listenerCount('SIGINT') + s.listenerCount('SIGTERM');

describe('runInterruptible', () => {
  test("the body's exit code, and no signal handler left afterwards", async () => {
    const { ctx, signals } = context();
    await runInterruptible(ctx, async () => {
      expect(listeners(signals)).toBe(2);
      return EXIT.FAILURE;
    });
    expect(ctx.exitCode).toBe(EXIT.FAILURE);
    expect(listeners(signals)).toBe(0);
  });

  test('SIGINT aborts the signal and its exit code wins over the body’s', async () => {
    const { ctx, signals } = context();
    await runInterruptible(ctx, async ({ signal }) => {
      signals.emit('SIGINT');
      signals.emit('SIGTERM'); // the first signal decides
      expect(signal.aborted).toBe(true);
      return EXIT.OK;
    });
    expect(ctx.exitCode).toBe(EXIT.SIGINT);
  });

  test('a failure caused by SIGTERM ends with 143; any other failure is rethrown', async () => {
    const { ctx, signals } = context();
    await runInterruptible(ctx, async ({ signal }) => {
      signals.emit('SIGTERM');
      expect(signal.aborted).toBe(true);
      throw new NetworkError('connect aborted');
    });
    expect(ctx.exitCode).toBe(EXIT.SIGTERM);
    const err = new NetworkError('connect ECONNREFUSED 127.0.0.1:9');
    await expect(runInterruptible(ctx, () => Promise.reject(err))).rejects.toBe(err);
    expect(listeners(signals)).toBe(0);
  });

  test('watchStdout: a write error on stdout aborts and reads as closed; a late one is harmless', async () => {
    const { ctx, stdout } = context();
    await runInterruptible(
      ctx,
      async ({ signal, outputClosed }) => {
        expect(outputClosed()).toBe(false);
        stdout.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
        expect(signal.aborted).toBe(true);
        expect(outputClosed()).toBe(true);
        return EXIT.OK;
      },
      { watchStdout: true },
    );
    expect(ctx.exitCode).toBe(EXIT.OK);
    expect(() => stdout.emit('error', new Error('late EPIPE'))).not.toThrow();
  });

  test('the input is released when the command is done, even when it failed', async () => {
    const { ctx } = context();
    const input = new PassThrough();
    await expect(
      runInterruptible(ctx, () => Promise.reject(new Error('boom')), { input }),
    ).rejects.toThrow('boom');
    expect(input.destroyed).toBe(true);
  });
});

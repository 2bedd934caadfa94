import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { UsageError, errnoName } from '../engine/errors.js';

/** The directory of a unix socket path must exist: say so plainly (exit 2). */
export async function checkSocketDirectory(path: string, verb = 'listen on'): Promise<void> {
  const dir = dirname(path);
  try {
    const st = await stat(dir);
    if (!st.isDirectory()) {
      throw new UsageError(
        `cannot ${verb} unix://${path} — ${dir} is not a directory`,
        'SOCKIT_ERR_NO_DIRECTORY',
      );
    }
  } catch (err) {
    if (err instanceof UsageError) throw err;
    if (errnoName(err) === 'ENOENT' || errnoName(err) === 'ENOTDIR') {
      throw new UsageError(
        `cannot ${verb} unix://${path} — directory ${dir} does not exist`,
        'SOCKIT_ERR_NO_DIRECTORY',
      );
    }
    // EACCES and the like: let bind report what the system says
  }
}

import { StreamRequestHandler } from '../engine/request-handler.js';

/** The RFC 867 daytime line: `Monday, November 23, 2026 15:04:05 UTC\r\n` (UTC, English). */
export function daytime(now = new Date()): string {
  const date = now.toLocaleDateString('en-US', {
    weekday: 'long',
    year: 'numeric',
    month: 'long',
    day: 'numeric',
    timeZone: 'UTC',
  });
  return `${date} ${now.toISOString().slice(11, 19)} UTC\r\n`;
}

/** RFC 867 daytime: send the date and time, then close; any datagram gets them back. */
export class DaytimeHandler extends StreamRequestHandler {
  override handle(): Promise<void> {
    return this.write(daytime());
  }
}

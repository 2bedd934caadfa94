import { Buffer } from 'node:buffer';
import { DatagramRequestHandler, StreamRequestHandler } from '../engine/request-handler.js';

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

/** RFC 867 daytime: send the date and time, then close. */
export class DaytimeHandler extends StreamRequestHandler {
  override handle(): Promise<void> {
    return this.write(daytime());
  }
}

/** RFC 867 daytime for datagrams: any datagram gets the date and time back. */
export class DaytimeDatagramHandler extends DatagramRequestHandler {
  override finish(): Promise<void> {
    return this.request.reply(Buffer.from(daytime()));
  }
}

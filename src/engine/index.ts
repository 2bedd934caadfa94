export * from './request-handler.js';
export * from './base-server.js';
export * from './stream-server.js';
export * from './datagram-server.js';
export * from './unix-datagram-server.js';

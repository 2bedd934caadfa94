/**
 * sockit as a library: the socketserver-style engine, the built-in handlers and
 * the client functions the CLI uses. Nothing here imports the CLI.
 */
export * from './net/index.js';
export * from './engine/index.js';
export * from './handlers/index.js';
export * from './clients/index.js';

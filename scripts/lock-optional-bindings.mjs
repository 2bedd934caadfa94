#!/usr/bin/env node
// Run after `npm install` changes package-lock.json: node scripts/lock-optional-bindings.mjs package-lock.json
// The registry reachable here carries only the linux bindings of unrs-resolver, so npm
// cannot record the other platforms' optional bindings and `npm ci` then refuses the lock.
// Add lock entries for them (optional, with their os/cpu/libc), which npm ci skips on linux.
import { readFileSync, writeFileSync } from 'node:fs';
const file = process.argv[2];
const lock = JSON.parse(readFileSync(file, 'utf8'));
const parent = lock.packages['node_modules/unrs-resolver'];
const version = (name) => parent.optionalDependencies[name];
const missing = Object.keys(parent.optionalDependencies).filter(
  (n) => !lock.packages[`node_modules/${n}`],
);
for (const name of missing) {
  const tag = name.replace('@unrs/resolver-binding-', '');
  const [os0, cpu0, abi] = tag.split('-');
  const os = os0;
  const cpu = cpu0 === 'arm' ? 'arm' : cpu0;
  const entry = { version: version(name), cpu: [cpu], dev: true };
  if (os === 'linux' && abi) entry.libc = [abi.startsWith('musl') ? 'musl' : 'glibc'];
  Object.assign(entry, { license: 'MIT', optional: true, os: [os] });
  lock.packages[`node_modules/${name}`] = entry;
}
// keep the packages sorted as npm writes them
const sorted = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) =>
    a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0,
  ),
);
lock.packages = sorted;
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`added ${missing.length}: ${missing.join(' ')}`);

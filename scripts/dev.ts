// `npm run dev -- <args>`: sockit straight from src/ (see dev-register.mjs).
import { main } from '../src/cli/main.js';

process.exitCode = await main(process.argv);

#!/usr/bin/env node
/** Command-line entry point: `tesla-sync tariff …` and `tesla-sync run …`. */
console.error("tesla-sync: the engine is not built yet");
process.exitCode = 1;

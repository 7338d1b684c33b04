#!/usr/bin/env node
// A persistent exec hook in Node (README "Persistent exec hooks"):
//
//   hooks:
//     sync: {exec: {command: ["examples/hooks/persistent-sync.js"], persistent: true}}
//
// One request a line on stdin, one answer a line on stdout. The same sync
// logic as persistent-sync.py: one ConfigMap named after the parent holding
// its spec.greeting, and status {ready: true}. No packages needed.
'use strict';
const readline = require('readline');

function sync(request) {
  const parent = request.parent;
  const name = parent.metadata.name;
  const greeting = (parent.spec && parent.spec.greeting) || '';
  return {
    status: { ready: true, greeting },
    children: [{
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: name + '-greeting' },
      data: { greeting },
    }],
  };
}

// Lines are answered in order; process.stdout.write queues them, and Node
// flushes a pipe's writes without being asked.
const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on('line', (line) => {
  const request = JSON.parse(line);
  const answer = request.finalizing ? { finalized: true } : sync(request);
  process.stdout.write(JSON.stringify(answer) + '\n');
});
lines.on('close', () => process.exit(0));

#!/usr/bin/env node
// A solc-compatible command line over the npm `solc` package (solcjs), for machines where the
// native compiler cannot be downloaded. It implements what py-solc-x needs:
//   solc.js --version          prints "Version: <long version>"
//   solc.js --standard-json    reads standard JSON input on stdin, writes the output on stdout
// Imports outside the input (e.g. "@openzeppelin/...") are read from node_modules or the base path.
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const projectRoot = path.resolve(__dirname, "..");

function findImport(importPath) {
  for (const base of [path.join(projectRoot, "node_modules"), projectRoot]) {
    const candidate = path.join(base, importPath);
    if (fs.existsSync(candidate)) return { contents: fs.readFileSync(candidate, "utf8") };
  }
  return { error: `File not found: ${importPath}` };
}

const args = process.argv.slice(2);
if (args.includes("--version")) {
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
} else if (args.includes("--standard-json")) {
  const input = fs.readFileSync(0, "utf8");
  process.stdout.write(solc.compile(input, { import: findImport }));
} else {
  process.stderr.write("usage: solc.js --version | --standard-json < input.json\n");
  // exitCode rather than exit(): exit() can cut off a large stdout before it is flushed.
  process.exitCode = 2;
}

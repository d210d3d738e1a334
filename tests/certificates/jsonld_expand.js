// Expands certificate documents with jsonld.js in safe mode, which fails on any term it would drop.
// stdin: {"contexts": {"<url>": "<file>"}, "documents": [...]}; stdout: the expanded documents.
// The document loader answers only the given contexts, from local files: nothing is fetched.
"use strict";
const fs = require("fs");
const jsonld = require("jsonld");

async function main() {
  const { contexts, documents } = JSON.parse(fs.readFileSync(0, "utf8"));
  const documentLoader = async (url) => {
    if (!(url in contexts)) throw new Error(`no local copy of the context ${url}`);
    return { contextUrl: null, documentUrl: url, document: JSON.parse(fs.readFileSync(contexts[url], "utf8")) };
  };
  const expanded = [];
  for (const document of documents) expanded.push(await jsonld.expand(document, { documentLoader, safe: true }));
  process.stdout.write(JSON.stringify(expanded));
}

main().catch((error) => {
  process.stderr.write(`${error.name}: ${error.message} ${JSON.stringify(error.details || {})}\n`);
  process.exit(1);
});

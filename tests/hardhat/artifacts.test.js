// The Python package ships its own compiled artifacts (ledger_node/artifacts, built by
// ledger_node/compiler.py so that running needs no Node). Both paths use the same pinned solcjs
// and settings; this checks they produce the same bytecode, metadata hash included.
const { expect } = require("chai");
const fs = require("fs");
const path = require("path");
const hre = require("hardhat");

const CONTRACTS = ["Consortium", "Catalog", "CertificateRegistry", "AuditCheckpoints"];

describe("Shipped Python artifacts", function () {
  before(async function () {
    await hre.run("compile", { quiet: true });
  });

  for (const name of CONTRACTS) {
    it(`have the bytecode Hardhat compiles for ${name}`, async function () {
      const shipped = JSON.parse(fs.readFileSync(path.join(__dirname, "../../ledger_node/artifacts", `${name}.json`)));
      const compiled = await hre.artifacts.readArtifact(name);
      expect(shipped.deployedBytecode.replace(/^0x/, "")).to.equal(compiled.deployedBytecode.replace(/^0x/, ""));
      expect(shipped.bytecode.replace(/^0x/, "")).to.equal(compiled.bytecode.replace(/^0x/, ""));
    });
  }
});

const { expect } = require("chai");
const { loadFixture } = require("@nomicfoundation/hardhat-network-helpers");
const stored = require("../vectors/merkle.json");
const { vectors } = require("../../scripts/merkle_vectors");
const { deployConsortium, terms } = require("./fixtures");

describe("Merkle vectors (tests/vectors/merkle.json)", function () {
  it("are what StandardMerkleTree computes today", function () {
    expect(stored).to.deep.equal(vectors());
  });

  for (const batch of stored.filter((b) => [3, 33].includes(b.size))) {
    it(`are accepted by the registry for a batch of ${batch.size}`, async function () {
      const { registry, accounts, typeIds } = await loadFixture(deployConsortium);
      await registry.connect(accounts.issuer).anchorBatch(batch.root, terms(typeIds.marriage, 0), batch.size);
      for (const member of batch.members) {
        expect(await registry.leafOf(member.value)).to.equal(member.leaf);
        expect(await registry.isBatchMember(batch.root, member.value, member.proof)).to.equal(true);
      }
    });
  }
});

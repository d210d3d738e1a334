const { expect } = require("chai");
const { loadFixture } = require("@nomicfoundation/hardhat-network-helpers");
const { deployConsortium, govern, code32, randomHash, Role, OPERATOR, ZERO } = require("./fixtures");

const LOG = code32("ACCESS-LOG");

describe("AuditCheckpoints", function () {
  it("keeps every checkpoint queryable, in order", async function () {
    const { checkpoints, accounts } = await loadFixture(deployConsortium);
    const roots = [randomHash(), randomHash(), randomHash()];
    for (const [i, root] of roots.entries()) {
      await expect(checkpoints.connect(accounts.operator).appendCheckpoint(LOG, (i + 1) * 10, root))
        .to.emit(checkpoints, "CheckpointAppended").withArgs(LOG, OPERATOR, i, (i + 1) * 10, root);
    }
    expect(await checkpoints.checkpointCount(LOG)).to.equal(3n);
    for (const [i, root] of roots.entries()) {
      const checkpoint = await checkpoints.checkpoint(LOG, i);
      expect([checkpoint.treeSize, checkpoint.rootHash]).to.deep.equal([BigInt((i + 1) * 10), root]);
    }
    expect((await checkpoints.latestCheckpoint(LOG)).rootHash).to.equal(roots[2]);
  });

  it("refuses a tree that does not grow", async function () {
    const { checkpoints, accounts } = await loadFixture(deployConsortium);
    await checkpoints.connect(accounts.operator).appendCheckpoint(LOG, 10, randomHash());
    await expect(checkpoints.connect(accounts.operator).appendCheckpoint(LOG, 10, randomHash()))
      .to.be.revertedWithCustomError(checkpoints, "CheckpointTreeNotGrowing").withArgs(LOG, 10, 10);
    await expect(checkpoints.connect(accounts.operator).appendCheckpoint(LOG, 9, randomHash()))
      .to.be.revertedWithCustomError(checkpoints, "CheckpointTreeNotGrowing").withArgs(LOG, 10, 9);
  });

  it("binds a log to the operator that first checkpointed it", async function () {
    const { consortium, checkpoints, governors, accounts } = await loadFixture(deployConsortium);
    const other = code32("OTHER-OPERATOR");
    const key = accounts.spare[0];
    await govern(consortium, governors, [
      await consortium.admitDepartment.populateTransaction(other, "另一运营方", Role.LOG_OPERATOR, [key.address]),
    ]);
    await checkpoints.connect(accounts.operator).appendCheckpoint(LOG, 1, randomHash());
    await expect(checkpoints.connect(key).appendCheckpoint(LOG, 2, randomHash()))
      .to.be.revertedWithCustomError(checkpoints, "CheckpointNotLogOperator").withArgs(LOG, OPERATOR, other);
  });

  it("is refused to departments without the log-operator role", async function () {
    const { consortium, checkpoints, accounts } = await loadFixture(deployConsortium);
    await expect(checkpoints.connect(accounts.auditor).appendCheckpoint(LOG, 1, randomHash()))
      .to.be.revertedWithCustomError(consortium, "ConsortiumMissingRole").withArgs(code32("AUDIT-OFFICE"), Role.LOG_OPERATOR);
  });

  it("refuses a zero root", async function () {
    const { checkpoints, accounts } = await loadFixture(deployConsortium);
    await expect(checkpoints.connect(accounts.operator).appendCheckpoint(LOG, 1, ZERO))
      .to.be.revertedWithCustomError(checkpoints, "CheckpointInvalid").withArgs(LOG, ZERO);
  });

  it("has no latest checkpoint for a log never checkpointed", async function () {
    const { checkpoints } = await loadFixture(deployConsortium);
    await expect(checkpoints.latestCheckpoint(LOG)).to.be.revertedWithCustomError(checkpoints, "CheckpointUnknown").withArgs(LOG, 0);
  });
});

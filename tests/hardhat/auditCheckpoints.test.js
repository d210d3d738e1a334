const { expect } = require("chai");
const { loadFixture } = require("@nomicfoundation/hardhat-network-helpers");
const { deployConsortium, govern, code32, randomHash, Role, Status, OPERATOR, AUDITOR, ZERO, ACCESS_LOG } =
  require("./fixtures");

const LOG = ACCESS_LOG; // registered with OPERATOR by the fixture

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

  async function withOtherOperator() {
    const network = await deployConsortium();
    const other = code32("OTHER-OPERATOR");
    const key = network.accounts.spare[0];
    await govern(network.consortium, network.governors, [
      await network.consortium.admitDepartment.populateTransaction(other, "另一运营方", Role.LOG_OPERATOR, [key.address]),
    ]);
    return { ...network, other, key };
  }

  it("lets governance register a log with its operator", async function () {
    const { consortium, checkpoints, governors, accounts } = await loadFixture(deployConsortium);
    const log = randomHash();
    await expect(govern(consortium, governors, [await checkpoints.setLogOperator.populateTransaction(log, OPERATOR)]))
      .to.emit(checkpoints, "LogOperatorAssigned").withArgs(log, ZERO, OPERATOR);
    expect(await checkpoints.logOperator(log)).to.equal(OPERATOR);
    await checkpoints.connect(accounts.operator).appendCheckpoint(log, 1, randomHash());
  });

  it("refuses registration by anything but governance", async function () {
    const { checkpoints, accounts } = await loadFixture(deployConsortium);
    await expect(checkpoints.connect(accounts.governor).setLogOperator(randomHash(), OPERATOR))
      .to.be.revertedWithCustomError(checkpoints, "CheckpointOnlyGovernance").withArgs(accounts.governor.address);
  });

  it("refuses checkpoints of an unregistered log", async function () {
    const { checkpoints, accounts } = await loadFixture(deployConsortium);
    const log = randomHash();
    await expect(checkpoints.connect(accounts.operator).appendCheckpoint(log, 1, randomHash()))
      .to.be.revertedWithCustomError(checkpoints, "CheckpointUnregisteredLog").withArgs(log);
  });

  it("takes checkpoints of a log from its registered operator only", async function () {
    const { checkpoints, other, key } = await loadFixture(withOtherOperator);
    await expect(checkpoints.connect(key).appendCheckpoint(LOG, 1, randomHash()))
      .to.be.revertedWithCustomError(checkpoints, "CheckpointNotLogOperator").withArgs(LOG, OPERATOR, other);
  });

  it("lets governance hand a log to another operator", async function () {
    const { consortium, checkpoints, governors, accounts, other, key } = await loadFixture(withOtherOperator);
    await checkpoints.connect(accounts.operator).appendCheckpoint(LOG, 1, randomHash());
    await expect(govern(consortium, governors, [await checkpoints.setLogOperator.populateTransaction(LOG, other)]))
      .to.emit(checkpoints, "LogOperatorAssigned").withArgs(LOG, OPERATOR, other);
    await checkpoints.connect(key).appendCheckpoint(LOG, 2, randomHash());
    await expect(checkpoints.connect(accounts.operator).appendCheckpoint(LOG, 3, randomHash()))
      .to.be.revertedWithCustomError(checkpoints, "CheckpointNotLogOperator").withArgs(LOG, other, OPERATOR);
  });

  it("registers only active departments with the log-operator role", async function () {
    const { consortium, checkpoints, governors } = await loadFixture(deployConsortium);
    const log = randomHash();
    await expect(govern(consortium, governors, [await checkpoints.setLogOperator.populateTransaction(log, AUDITOR)]))
      .to.be.revertedWithCustomError(checkpoints, "CheckpointOperatorIneligible").withArgs(log, AUDITOR);
    await govern(consortium, governors, [await consortium.setStatus.populateTransaction(OPERATOR, Status.SUSPENDED)]);
    await expect(govern(consortium, governors, [await checkpoints.setLogOperator.populateTransaction(log, OPERATOR)]))
      .to.be.revertedWithCustomError(checkpoints, "CheckpointOperatorIneligible").withArgs(log, OPERATOR);
  });

  it("refuses a zero log id", async function () {
    const { consortium, checkpoints, governors } = await loadFixture(deployConsortium);
    await expect(govern(consortium, governors, [await checkpoints.setLogOperator.populateTransaction(ZERO, OPERATOR)]))
      .to.be.revertedWithCustomError(checkpoints, "CheckpointInvalid").withArgs(ZERO, ZERO);
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

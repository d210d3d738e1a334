// Upgrading the registry by a successor deployment (tests/contracts/test_upgrade.py checks the same rules
// on the embedded chain): the successor anchors only after governance retires its predecessor in its
// favour, never a hash a predecessor anchored; the retired registry anchors nothing and still revokes.
const { expect } = require("chai");
const { ethers } = require("hardhat");
const { loadFixture } = require("@nomicfoundation/hardhat-network-helpers");
const { deployConsortium, govern, randomHash, terms, ZERO, CertificateStatus, CIVIL } = require("./fixtures");

describe("CertificateRegistry upgrade", function () {
  async function withSuccessor() {
    const network = await deployConsortium();
    const { consortium, catalog, registry, accounts, typeIds } = network;
    const successor = await ethers.deployContract("CertificateRegistry",
      [consortium.target, catalog.target, registry.target], accounts.deployer);
    const old = randomHash();
    await registry.connect(accounts.issuer).issue(old, terms(typeIds.marriage, 0));
    return { ...network, successor, old };
  }

  async function upgraded() {
    const network = await withSuccessor();
    const { consortium, governors, registry, successor } = network;
    await govern(consortium, governors, [await registry.retire.populateTransaction(successor.target)]);
    return network;
  }

  it("keeps the successor from anchoring until its predecessor retires", async function () {
    const { registry, successor, accounts, typeIds } = await loadFixture(withSuccessor);
    await expect(successor.connect(accounts.issuer).issue(randomHash(), terms(typeIds.marriage, 0)))
      .to.be.revertedWithCustomError(successor, "RegistryNotYetActive").withArgs(registry.target);
  });

  it("retires only through governance", async function () {
    const { registry, successor, accounts } = await loadFixture(withSuccessor);
    await expect(registry.connect(accounts.governor).retire(successor.target))
      .to.be.revertedWithCustomError(registry, "RegistryOnlyGovernance").withArgs(accounts.governor.address);
  });

  it("lets only the predecessor hand over", async function () {
    const { successor, accounts } = await loadFixture(withSuccessor);
    await expect(successor.connect(accounts.governor).takeOver())
      .to.be.revertedWithCustomError(successor, "RegistryNotPredecessor").withArgs(accounts.governor.address);
  });

  it("announces the retirement and the takeover in the governance call", async function () {
    const { consortium, governors, registry, successor } = await loadFixture(withSuccessor);
    const execution = govern(consortium, governors, [await registry.retire.populateTransaction(successor.target)]);
    await expect(execution).to.emit(registry, "RegistryRetired").withArgs(successor.target);
    await expect(execution).to.emit(successor, "RegistryTookOver").withArgs(registry.target);
  });

  it("refuses new issuance in the retired registry, naming the successor", async function () {
    const { registry, successor, accounts, typeIds } = await loadFixture(upgraded);
    await expect(registry.connect(accounts.issuer).issue(randomHash(), terms(typeIds.marriage, 0)))
      .to.be.revertedWithCustomError(registry, "RegistryIsRetired").withArgs(successor.target);
  });

  it("still revokes a certificate of the retired registry", async function () {
    const { registry, accounts, old } = await loadFixture(upgraded);
    await expect(registry.connect(accounts.issuer).revoke(old, ZERO, [], 2))
      .to.emit(registry, "CertificateRevoked").withArgs(old, CIVIL, ZERO, 2);
    expect((await registry.certificateState(old, ZERO, [])).status).to.equal(BigInt(CertificateStatus.REVOKED));
  });

  it("refuses in the successor a hash the predecessor anchored", async function () {
    const { registry, successor, accounts, typeIds, old } = await loadFixture(upgraded);
    await expect(successor.connect(accounts.issuer).issue(old, terms(typeIds.marriage, 0)))
      .to.be.revertedWithCustomError(successor, "RegistryAnchoredInPredecessor").withArgs(old, registry.target);
  });

  it("issues a new certificate in the successor", async function () {
    const { successor, accounts, typeIds } = await loadFixture(upgraded);
    const hash = randomHash();
    await expect(successor.connect(accounts.issuer).issue(hash, terms(typeIds.marriage, 0)))
      .to.emit(successor, "CertificateIssued").withArgs(hash);
    expect((await successor.certificateState(hash, ZERO, [])).issuer).to.equal(CIVIL);
  });

  it("forgets the retired registry's permits and names the successor in the consortium", async function () {
    const { registry, successor, consortium, accounts, typeIds } = await loadFixture(upgraded);
    expect([...(await registry.issuancePermit(accounts.issuer.address, typeIds.marriage))]).to.deep.equal([0n, 0n, 0n]);
    expect(await consortium.issuancePermits()).to.equal(successor.target);
  });
});

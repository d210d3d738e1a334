const { expect } = require("chai");
const { loadFixture, time } = require("@nomicfoundation/hardhat-network-helpers");
const { deployConsortium, govern, propose, code32, Role, Status, CIVIL, HOUSING, SUSPENDED, GOV1, GOV2,
  PROPOSAL_LIFETIME, MAX_PROPOSAL_LIFETIME, ZERO } = require("./fixtures");

describe("Consortium", function () {
  const proposal = (consortium, governor, calls, options) => propose(consortium, governor, calls, options);

  describe("governance", function () {
    it("executes a proposal once a quorum of governors approved it", async function () {
      const { consortium, accounts } = await loadFixture(deployConsortium);
      const code = code32("HR-BUREAU");
      const call = await consortium.admitDepartment.populateTransaction(code, "人社局", Role.ISSUER, [accounts.spare[0].address]);
      const { id, encoded } = await proposal(consortium, accounts.governor, [call]);
      await consortium.connect(accounts.governor2).approve(id);
      await expect(consortium.connect(accounts.governor).execute(id, encoded))
        .to.emit(consortium, "DepartmentAdmitted").withArgs(code, 10n, "人社局", Role.ISSUER);
    });

    it("does not count the proposer alone as a quorum", async function () {
      const { consortium, accounts } = await loadFixture(deployConsortium);
      const call = await consortium.setQuorum.populateTransaction(3);
      const { id, encoded } = await proposal(consortium, accounts.governor, [call]);
      await expect(consortium.connect(accounts.governor).execute(id, encoded))
        .to.be.revertedWithCustomError(consortium, "ConsortiumQuorumNotReached").withArgs(id, 1, 2);
    });

    it("lets a department approve only once", async function () {
      const { consortium, accounts } = await loadFixture(deployConsortium);
      const { id } = await proposal(consortium, accounts.governor, [await consortium.setQuorum.populateTransaction(3)]);
      await expect(consortium.connect(accounts.governor).approve(id))
        .to.be.revertedWithCustomError(consortium, "ConsortiumAlreadyApproved").withArgs(id, GOV1);
    });

    it("refuses to execute other calls than those proposed", async function () {
      const { consortium, accounts } = await loadFixture(deployConsortium);
      const { id } = await proposal(consortium, accounts.governor, [await consortium.setQuorum.populateTransaction(3)]);
      await consortium.connect(accounts.governor2).approve(id);
      const other = await consortium.setQuorum.populateTransaction(1);
      await expect(consortium.connect(accounts.governor).execute(id, [{ target: other.to, data: other.data }]))
        .to.be.revertedWithCustomError(consortium, "ConsortiumCallsMismatch");
    });

    it("executes a proposal only once", async function () {
      const { consortium, accounts } = await loadFixture(deployConsortium);
      const { id, encoded } = await proposal(consortium, accounts.governor, [await consortium.setQuorum.populateTransaction(3)]);
      await consortium.connect(accounts.governor2).approve(id);
      await consortium.connect(accounts.governor).execute(id, encoded);
      await expect(consortium.connect(accounts.governor).execute(id, encoded))
        .to.be.revertedWithCustomError(consortium, "ConsortiumAlreadyExecuted").withArgs(id);
    });

    it("refuses a quorum larger than the active governors", async function () {
      const { consortium, governors } = await loadFixture(deployConsortium);
      await expect(govern(consortium, governors, [await consortium.setQuorum.populateTransaction(4)]))
        .to.be.revertedWithCustomError(consortium, "ConsortiumInvalidQuorum").withArgs(4, 3);
    });

    it("lets only governance change a department's roles", async function () {
      const { consortium, accounts } = await loadFixture(deployConsortium);
      await expect(consortium.connect(accounts.governor).setRoles(CIVIL, Role.RELYING_PARTY))
        .to.be.revertedWithCustomError(consortium, "ConsortiumOnlyGovernance").withArgs(accounts.governor.address);
    });

    it("refuses a proposal from a department that is not a governor", async function () {
      const { consortium, accounts } = await loadFixture(deployConsortium);
      const call = await consortium.setQuorum.populateTransaction(3);
      await expect(consortium.connect(accounts.issuer).propose([{ target: call.to, data: call.data }], "p", PROPOSAL_LIFETIME))
        .to.be.revertedWithCustomError(consortium, "ConsortiumMissingRole").withArgs(CIVIL, Role.GOVERNOR);
    });

    it("makes removal final", async function () {
      const { consortium, governors } = await loadFixture(deployConsortium);
      await govern(consortium, governors, [await consortium.setStatus.populateTransaction(SUSPENDED, Status.REMOVED)]);
      await expect(govern(consortium, governors, [await consortium.setStatus.populateTransaction(SUSPENDED, Status.ACTIVE)]))
        .to.be.revertedWithCustomError(consortium, "ConsortiumInvalidStatusChange")
        .withArgs(SUSPENDED, Status.REMOVED, Status.ACTIVE);
    });
  });

  describe("proposal life", function () {
    const setQuorum3 = (consortium) => consortium.setQuorum.populateTransaction(3);

    it("records the expiry its proposer gave", async function () {
      const { consortium, accounts } = await loadFixture(deployConsortium);
      const encoded = [await setQuorum3(consortium)].map((c) => ({ target: c.to, data: c.data }));
      const tx = consortium.connect(accounts.governor).propose(encoded, "p", 3600);
      await expect(tx).to.emit(consortium, "ProposalCreated");
      const state = await consortium.proposal(await consortium.proposalCount());
      expect(state.expiresAt - state.createdAt).to.equal(3600n);
      expect(state.cancelled).to.equal(false);
    });

    it("refuses a lifetime of zero", async function () {
      const { consortium, accounts } = await loadFixture(deployConsortium);
      await expect(proposal(consortium, accounts.governor, [await setQuorum3(consortium)], { lifetime: 0 }))
        .to.be.revertedWithCustomError(consortium, "ConsortiumInvalidLifetime").withArgs(0, MAX_PROPOSAL_LIFETIME);
    });

    it("refuses a lifetime beyond the maximum", async function () {
      const { consortium, accounts } = await loadFixture(deployConsortium);
      await expect(proposal(consortium, accounts.governor, [await setQuorum3(consortium)], { lifetime: MAX_PROPOSAL_LIFETIME + 1 }))
        .to.be.revertedWithCustomError(consortium, "ConsortiumInvalidLifetime").withArgs(MAX_PROPOSAL_LIFETIME + 1, MAX_PROPOSAL_LIFETIME);
    });

    it("refuses approving an expired proposal", async function () {
      const { consortium, accounts } = await loadFixture(deployConsortium);
      const { id } = await proposal(consortium, accounts.governor, [await setQuorum3(consortium)], { lifetime: 100 });
      const { expiresAt } = await consortium.proposal(id);
      await time.increaseTo(expiresAt);
      await expect(consortium.connect(accounts.governor2).approve(id))
        .to.be.revertedWithCustomError(consortium, "ConsortiumProposalExpired").withArgs(id, expiresAt);
    });

    it("refuses executing an expired proposal although a quorum approved it", async function () {
      const { consortium, accounts } = await loadFixture(deployConsortium);
      const { id, encoded } = await proposal(consortium, accounts.governor, [await setQuorum3(consortium)], { lifetime: 100 });
      await consortium.connect(accounts.governor2).approve(id);
      const { expiresAt } = await consortium.proposal(id);
      await time.increaseTo(expiresAt);
      await expect(consortium.connect(accounts.governor).execute(id, encoded))
        .to.be.revertedWithCustomError(consortium, "ConsortiumProposalExpired").withArgs(id, expiresAt);
    });

    it("executes a proposal in the last second of its life", async function () {
      const { consortium, accounts } = await loadFixture(deployConsortium);
      const { id, encoded } = await proposal(consortium, accounts.governor, [await setQuorum3(consortium)], { lifetime: 100 });
      await consortium.connect(accounts.governor2).approve(id);
      const { expiresAt } = await consortium.proposal(id);
      await time.setNextBlockTimestamp(expiresAt - 1n);
      await consortium.connect(accounts.governor).execute(id, encoded);
      expect(await consortium.quorum()).to.equal(3n);
    });

    it("lets the proposer cancel, after which nothing more happens to the proposal", async function () {
      const { consortium, accounts } = await loadFixture(deployConsortium);
      const { id, encoded } = await proposal(consortium, accounts.governor, [await setQuorum3(consortium)]);
      await consortium.connect(accounts.governor2).approve(id);
      await expect(consortium.connect(accounts.governor).cancel(id)).to.emit(consortium, "ProposalCancelled").withArgs(id, GOV1);
      expect((await consortium.proposal(id)).cancelled).to.equal(true);
      await expect(consortium.connect(accounts.governor3).approve(id))
        .to.be.revertedWithCustomError(consortium, "ConsortiumProposalCancelled").withArgs(id);
      await expect(consortium.connect(accounts.governor).execute(id, encoded))
        .to.be.revertedWithCustomError(consortium, "ConsortiumProposalCancelled").withArgs(id);
      await expect(consortium.connect(accounts.governor).cancel(id))
        .to.be.revertedWithCustomError(consortium, "ConsortiumProposalCancelled").withArgs(id);
    });

    it("refuses cancellation by another department", async function () {
      const { consortium, accounts } = await loadFixture(deployConsortium);
      const { id } = await proposal(consortium, accounts.governor, [await setQuorum3(consortium)]);
      await expect(consortium.connect(accounts.governor2).cancel(id))
        .to.be.revertedWithCustomError(consortium, "ConsortiumNotProposer").withArgs(id, GOV1, GOV2);
      await expect(consortium.connect(accounts.outsider).cancel(id))
        .to.be.revertedWithCustomError(consortium, "ConsortiumUnknownKey").withArgs(accounts.outsider.address);
    });

    it("refuses cancelling an executed proposal", async function () {
      const { consortium, accounts } = await loadFixture(deployConsortium);
      const { id, encoded } = await proposal(consortium, accounts.governor, [await setQuorum3(consortium)]);
      await consortium.connect(accounts.governor2).approve(id);
      await consortium.connect(accounts.governor).execute(id, encoded);
      await expect(consortium.connect(accounts.governor).cancel(id))
        .to.be.revertedWithCustomError(consortium, "ConsortiumAlreadyExecuted").withArgs(id);
    });

    it("lets a quorum cancel any proposal", async function () {
      const { consortium, governors, accounts } = await loadFixture(deployConsortium);
      const { id } = await proposal(consortium, accounts.governor3, [await setQuorum3(consortium)]);
      await expect(govern(consortium, governors, [await consortium.cancel.populateTransaction(id)]))
        .to.emit(consortium, "ProposalCancelled").withArgs(id, ZERO);
      expect((await consortium.proposal(id)).cancelled).to.equal(true);
    });
  });

  describe("keys", function () {
    it("keeps a rotated key's history", async function () {
      const { consortium, accounts } = await loadFixture(deployConsortium);
      const newKey = accounts.spare[0].address;
      await expect(consortium.connect(accounts.issuer).rotateKey(CIVIL, accounts.issuer.address, newKey))
        .to.emit(consortium, "KeyRemoved").withArgs(CIVIL, accounts.issuer.address)
        .and.to.emit(consortium, "KeyAdded").withArgs(CIVIL, newKey);
      const record = await consortium.keyRecord(accounts.issuer.address);
      expect(record.removedAt).to.be.greaterThan(0n);
      expect(await consortium.keysOf(CIVIL)).to.deep.equal([accounts.issuer.address, newKey]);
      expect((await consortium.keyRecord(newKey)).removedAt).to.equal(0n);
    });

    it("answers whether a key was a department's at a given time", async function () {
      const { consortium, accounts } = await loadFixture(deployConsortium);
      const before = BigInt(await time.latest());
      await time.increase(100);
      await consortium.connect(accounts.issuer).rotateKey(CIVIL, accounts.issuer.address, accounts.spare[0].address);
      expect(await consortium.wasKeyOf(accounts.issuer.address, CIVIL, before)).to.equal(true);
      expect(await consortium.wasKeyOf(accounts.issuer.address, CIVIL, BigInt(await time.latest()))).to.equal(false);
      expect(await consortium.wasKeyOf(accounts.issuer.address, HOUSING, before)).to.equal(false);
    });

    it("stops a rotated key from acting", async function () {
      const { consortium, accounts } = await loadFixture(deployConsortium);
      await consortium.connect(accounts.issuer).rotateKey(CIVIL, accounts.issuer.address, accounts.spare[0].address);
      await expect(consortium.connect(accounts.issuer).addKey(CIVIL, accounts.spare[1].address))
        .to.be.revertedWithCustomError(consortium, "ConsortiumUnknownKey").withArgs(accounts.issuer.address);
    });

    it("never lets a key belong to two departments", async function () {
      const { consortium, accounts } = await loadFixture(deployConsortium);
      await expect(consortium.connect(accounts.issuer).addKey(CIVIL, accounts.otherIssuer.address))
        .to.be.revertedWithCustomError(consortium, "ConsortiumKeyAlreadyRegistered")
        .withArgs(accounts.otherIssuer.address, HOUSING);
    });

    it("refuses to remove a department's last key", async function () {
      const { consortium, accounts } = await loadFixture(deployConsortium);
      await expect(consortium.connect(accounts.issuer).removeKey(CIVIL, accounts.issuer.address))
        .to.be.revertedWithCustomError(consortium, "ConsortiumLastKey").withArgs(CIVIL);
    });

    it("refuses a department changing another department's keys", async function () {
      const { consortium, accounts } = await loadFixture(deployConsortium);
      await expect(consortium.connect(accounts.otherIssuer).addKey(CIVIL, accounts.spare[0].address))
        .to.be.revertedWithCustomError(consortium, "ConsortiumUnauthorised").withArgs(accounts.otherIssuer.address, CIVIL);
    });

    it("refuses key changes by a suspended department", async function () {
      const { consortium, accounts } = await loadFixture(deployConsortium);
      await expect(consortium.connect(accounts.suspended).addKey(SUSPENDED, accounts.spare[0].address))
        .to.be.revertedWithCustomError(consortium, "ConsortiumDepartmentNotActive").withArgs(SUSPENDED, Status.SUSPENDED);
    });

    it("resolves a key to its department in one view", async function () {
      const { consortium, accounts } = await loadFixture(deployConsortium);
      const [, code] = await consortium.memberOf(accounts.governor2.address, Role.GOVERNOR);
      expect(code).to.equal(GOV2);
    });
  });
});

const { expect } = require("chai");
const { loadFixture, time } = require("@nomicfoundation/hardhat-network-helpers");
const { StandardMerkleTree } = require("@openzeppelin/merkle-tree");
const { deployConsortium, govern, randomHash, terms, typeIdOf, ZERO, Status, CertificateStatus, CIVIL, HOUSING,
  SUSPENDED, MARRIAGE, SCHEMA_V1 } = require("./fixtures");

describe("CertificateRegistry", function () {
  async function withBatch() {
    const network = await deployConsortium();
    const members = Array.from({ length: 7 }, () => [randomHash()]);
    const tree = StandardMerkleTree.of(members, ["bytes32"]);
    await network.registry.connect(network.accounts.issuer)
      .anchorBatch(tree.root, terms(network.typeIds.marriage, 0), members.length);
    return { ...network, members: members.map(([h]) => h), tree };
  }

  const proofOf = (tree, hash) => tree.getProof([hash]);

  /** `name` (issue or anchorBatch) called with its uint72 terms written as a full word, which ethers
   * would refuse to encode at 2^72 or more: the registry's ABI decoder has to refuse it. */
  function callWithTermsWord(registry, signer, name, hash, word) {
    const types = name === "issue" ? ["bytes32", "uint256"] : ["bytes32", "uint256", "uint32"];
    const args = name === "issue" ? [hash, word] : [hash, word, 3];
    const data = ethers.concat([registry.interface.getFunction(name).selector,
      ethers.AbiCoder.defaultAbiCoder().encode(types, args)]);
    return signer.sendTransaction({ to: registry.target, data });
  }

  describe("single issuance", function () {
    it("records everything a verifier needs", async function () {
      const { registry, accounts, typeIds } = await loadFixture(deployConsortium);
      const hash = randomHash();
      const until = (await time.latest()) + 3600;
      await expect(registry.connect(accounts.issuer).issue(hash, terms(typeIds.marriage, until)))
        .to.emit(registry, "CertificateIssued").withArgs(hash);
      const anchor = await registry.anchorOf(hash);
      expect([anchor.typeId, anchor.typeVersion, anchor.validUntil, anchor.memberCount])
        .to.deep.equal([typeIds.marriage, 1n, BigInt(until), 0n]);
      const state = await registry.certificateState(hash, ZERO, []);
      expect(state.status).to.equal(BigInt(CertificateStatus.VALID));
      expect([state.issuer, state.certificateType, state.typeVersion, state.validUntil])
        .to.deep.equal([CIVIL, MARRIAGE, 1n, BigInt(until)]);
    });

    it("refuses a second anchor of the same hash", async function () {
      const { registry, accounts, typeIds } = await loadFixture(deployConsortium);
      const hash = randomHash();
      await registry.connect(accounts.issuer).issue(hash, terms(typeIds.marriage, 0));
      await expect(registry.connect(accounts.issuer).issue(hash, terms(typeIds.marriage, 0)))
        .to.be.revertedWithCustomError(registry, "RegistryAlreadyAnchored").withArgs(hash);
    });

    it("refuses an issuer of another type", async function () {
      const { registry, catalog, accounts, typeIds } = await loadFixture(deployConsortium);
      await expect(registry.connect(accounts.otherIssuer).issue(randomHash(), terms(typeIds.marriage, 0)))
        .to.be.revertedWithCustomError(catalog, "CatalogIssuerNotAuthorised").withArgs(MARRIAGE, HOUSING);
    });

    it("refuses a suspended department although the catalog authorises it", async function () {
      const { registry, consortium, accounts, typeIds } = await loadFixture(deployConsortium);
      await expect(registry.connect(accounts.suspended).issue(randomHash(), terms(typeIds.marriage, 0)))
        .to.be.revertedWithCustomError(consortium, "ConsortiumDepartmentNotActive").withArgs(SUSPENDED, Status.SUSPENDED);
    });

    it("refuses a key of no department", async function () {
      const { registry, consortium, accounts, typeIds } = await loadFixture(deployConsortium);
      await expect(registry.connect(accounts.outsider).issue(randomHash(), terms(typeIds.marriage, 0)))
        .to.be.revertedWithCustomError(consortium, "ConsortiumUnknownKey").withArgs(accounts.outsider.address);
    });

    it("refuses a deprecated type", async function () {
      const { registry, catalog, accounts, typeIds } = await loadFixture(deployConsortium);
      await catalog.connect(accounts.issuer).setTypeStatus(MARRIAGE, 2);
      await expect(registry.connect(accounts.issuer).issue(randomHash(), terms(typeIds.marriage, 0)))
        .to.be.revertedWithCustomError(catalog, "CatalogTypeDeprecated").withArgs(MARRIAGE);
    });

    it("records the type version current at issue", async function () {
      const { registry, catalog, accounts, typeIds } = await loadFixture(deployConsortium);
      const hash = randomHash();
      await catalog.connect(accounts.issuer).publishTypeVersion(MARRIAGE, randomHash());
      await registry.connect(accounts.issuer).issue(hash, terms(typeIds.marriage, 0));
      expect((await registry.certificateState(hash, ZERO, [])).typeVersion).to.equal(2n);
    });

    it("expires at its validity end", async function () {
      const { registry, accounts, typeIds } = await loadFixture(deployConsortium);
      const hash = randomHash();
      const until = (await time.latest()) + 60;
      await registry.connect(accounts.issuer).issue(hash, terms(typeIds.marriage, until));
      await time.increaseTo(until);
      expect((await registry.certificateState(hash, ZERO, [])).status).to.equal(BigInt(CertificateStatus.EXPIRED));
    });

    it("refuses a validity end at the block's time", async function () {
      const { registry, accounts, typeIds } = await loadFixture(deployConsortium);
      const now = (await time.latest()) + 10;
      await time.setNextBlockTimestamp(now);
      // A gas limit: the transaction is mined at `now` rather than estimated on another block.
      await expect(registry.connect(accounts.issuer).issue(randomHash(), terms(typeIds.marriage, now), { gasLimit: 500000 }))
        .to.be.revertedWithCustomError(registry, "RegistryInvalidValidity").withArgs(now, now);
    });
  });

  describe("terms", function () {
    it("take the type id from the low 32 bits and the validity end from the next 40", async function () {
      const { registry, accounts, typeIds } = await loadFixture(deployConsortium);
      const hash = randomHash();
      const latest = 2n ** 40n - 1n; // every validity bit set: none may spill into the type id
      await registry.connect(accounts.issuer).issue(hash, terms(typeIds.marriage, latest));
      const anchor = await registry.anchorOf(hash);
      expect([anchor.typeId, anchor.validUntil]).to.deep.equal([typeIds.marriage, latest]);
    });

    for (const name of ["issue", "anchorBatch"]) {
      it(`of 2^72 or more are refused by ${name}'s ABI decoder, without a reason`, async function () {
        const { registry, accounts, typeIds } = await loadFixture(deployConsortium);
        const valid = terms(typeIds.marriage, 0);
        // Truncated to 72 bits the word would be valid terms; the same encoding of those is accepted.
        await callWithTermsWord(registry, accounts.issuer, name, randomHash(), valid);
        await expect(callWithTermsWord(registry, accounts.issuer, name, randomHash(), valid | (1n << 72n)))
          .to.be.revertedWithoutReason();
      });
    }

    it("naming type id 0 are refused: no type has it", async function () {
      const { registry, catalog, accounts } = await loadFixture(deployConsortium);
      await expect(registry.connect(accounts.issuer).issue(randomHash(), terms(0, 0)))
        .to.be.revertedWithCustomError(catalog, "CatalogUnknownTypeId").withArgs(0);
    });

    it("naming a type id beyond the last registered are refused by issue", async function () {
      const { registry, catalog, accounts } = await loadFixture(deployConsortium);
      const unknown = (await catalog.typeCount()) + 1n;
      await expect(registry.connect(accounts.issuer).issue(randomHash(), terms(unknown, 0)))
        .to.be.revertedWithCustomError(catalog, "CatalogUnknownTypeId").withArgs(unknown);
    });

    it("naming a type id beyond the last registered are refused by anchorBatch", async function () {
      const { registry, catalog, accounts } = await loadFixture(deployConsortium);
      const unknown = (await catalog.typeCount()) + 1n;
      await expect(registry.connect(accounts.issuer).anchorBatch(randomHash(), terms(unknown, 0), 3))
        .to.be.revertedWithCustomError(catalog, "CatalogUnknownTypeId").withArgs(unknown);
    });
  });

  describe("Merkle batches", function () {
    it("accept every member with its StandardMerkleTree proof", async function () {
      const { registry, members, tree } = await loadFixture(withBatch);
      for (const member of members) {
        expect(await registry.isBatchMember(tree.root, member, proofOf(tree, member))).to.equal(true);
      }
    });

    it("compute leaves as StandardMerkleTree does", async function () {
      const { registry, members, tree } = await loadFixture(withBatch);
      expect(await registry.leafOf(members[0])).to.equal(tree.leafHash([members[0]]));
    });

    it("reject a hash outside the batch", async function () {
      const { registry, members, tree } = await loadFixture(withBatch);
      expect(await registry.isBatchMember(tree.root, randomHash(), proofOf(tree, members[0]))).to.equal(false);
    });

    it("reject a proof against another root", async function () {
      const { registry, members, tree } = await loadFixture(withBatch);
      expect(await registry.isBatchMember(randomHash(), members[0], proofOf(tree, members[0]))).to.equal(false);
    });

    it("reject a tampered proof", async function () {
      const { registry, members, tree } = await loadFixture(withBatch);
      const proof = proofOf(tree, members[0]);
      proof[0] = randomHash();
      expect(await registry.isBatchMember(tree.root, members[0], proof)).to.equal(false);
    });

    it("reject an inner node presented as a certificate", async function () {
      const { registry, members, tree } = await loadFixture(withBatch);
      const proof = proofOf(tree, members[0]);
      // The parent of the first member's leaf, and the rest of its proof, lead to the root too.
      const [a, b] = [tree.leafHash([members[0]]), proof[0]].sort();
      const inner = ethers.keccak256(ethers.concat([a, b]));
      expect(await registry.isBatchMember(tree.root, inner, proof.slice(1))).to.equal(false);
    });

    it("cost the same gas whatever the batch size", async function () {
      const { registry, accounts, typeIds } = await loadFixture(deployConsortium);
      const gas = [];
      for (const count of [1, 100000]) {
        const tx = await registry.connect(accounts.issuer).anchorBatch(randomHash(), terms(typeIds.marriage, 0), count);
        gas.push((await tx.wait()).gasUsed);
      }
      expect(gas[1] - gas[0]).to.be.lessThan(100n);
    });

    it("refuse an empty batch", async function () {
      const { registry, accounts, typeIds } = await loadFixture(deployConsortium);
      const root = randomHash();
      await expect(registry.connect(accounts.issuer).anchorBatch(root, terms(typeIds.marriage, 0), 0))
        .to.be.revertedWithCustomError(registry, "RegistryInvalidAnchor").withArgs(root);
    });

    it("announce only the root; anchorOf gives issuer, type, version, validity and members", async function () {
      const { registry, catalog, consortium, accounts, typeIds } = await loadFixture(deployConsortium);
      await catalog.connect(accounts.issuer).publishTypeVersion(MARRIAGE, randomHash());
      const root = randomHash();
      const until = (await time.latest()) + 3600;
      const tx = registry.connect(accounts.issuer).anchorBatch(root, terms(typeIds.marriage, until), 42);
      await expect(tx).to.emit(registry, "BatchAnchored").withArgs(root);
      const [log] = (await (await tx).wait()).logs;
      expect([log.topics.length, log.data]).to.deep.equal([2, "0x"]);
      const anchor = await registry.anchorOf(root);
      expect([anchor.issuerId, anchor.typeId, anchor.typeVersion, anchor.issuedAt, anchor.validUntil, anchor.memberCount])
        .to.deep.equal([await consortium.departmentId(CIVIL), typeIds.marriage, 2n, BigInt(await time.latest()),
          BigInt(until), 42n]);
    });
  });

  describe("revocation", function () {
    it("records time and reason of a single certificate", async function () {
      const { registry, accounts, typeIds } = await loadFixture(deployConsortium);
      const hash = randomHash();
      await registry.connect(accounts.issuer).issue(hash, terms(typeIds.marriage, 0));
      await expect(registry.connect(accounts.issuer).revoke(hash, ZERO, [], 2))
        .to.emit(registry, "CertificateRevoked").withArgs(hash, CIVIL, ZERO, 2);
      const state = await registry.certificateState(hash, ZERO, []);
      expect(state.status).to.equal(BigInt(CertificateStatus.REVOKED));
      expect(state.revokedAt).to.equal(BigInt(await time.latest()));
      expect(state.revocationReason).to.equal(2n);
    });

    it("revokes one batch member and leaves the others valid", async function () {
      const { registry, accounts, members, tree } = await loadFixture(withBatch);
      await registry.connect(accounts.issuer).revoke(members[0], tree.root, proofOf(tree, members[0]), 1);
      const revoked = await registry.certificateState(members[0], tree.root, proofOf(tree, members[0]));
      const other = await registry.certificateState(members[1], tree.root, proofOf(tree, members[1]));
      expect([revoked.status, other.status]).to.deep.equal([BigInt(CertificateStatus.REVOKED), BigInt(CertificateStatus.VALID)]);
    });

    it("needs a valid proof for a batch member", async function () {
      const { registry, accounts, members, tree } = await loadFixture(withBatch);
      const outsider = randomHash();
      await expect(registry.connect(accounts.issuer).revoke(outsider, tree.root, proofOf(tree, members[0]), 1))
        .to.be.revertedWithCustomError(registry, "RegistryInvalidProof").withArgs(tree.root, outsider);
    });

    it("is allowed to the issuing department only", async function () {
      const { registry, accounts, typeIds } = await loadFixture(deployConsortium);
      const hash = randomHash();
      await registry.connect(accounts.issuer).issue(hash, terms(typeIds.marriage, 0));
      await expect(registry.connect(accounts.otherIssuer).revoke(hash, ZERO, [], 1))
        .to.be.revertedWithCustomError(registry, "RegistryNotIssuer").withArgs(hash, HOUSING);
    });

    it("is refused to an issuer suspended since it issued", async function () {
      const { registry, consortium, governors, accounts, typeIds } = await loadFixture(deployConsortium);
      const hash = randomHash();
      await registry.connect(accounts.issuer).issue(hash, terms(typeIds.marriage, 0));
      await govern(consortium, governors, [await consortium.setStatus.populateTransaction(CIVIL, Status.SUSPENDED)]);
      await expect(registry.connect(accounts.issuer).revoke(hash, ZERO, [], 1))
        .to.be.revertedWithCustomError(consortium, "ConsortiumDepartmentNotActive").withArgs(CIVIL, Status.SUSPENDED);
    });

    for (const reason of [0, 1, 2, 3]) {
      it(`records the defined reason ${reason}`, async function () {
        const { registry, accounts, typeIds } = await loadFixture(deployConsortium);
        const hash = randomHash();
        await registry.connect(accounts.issuer).issue(hash, terms(typeIds.marriage, 0));
        await expect(registry.connect(accounts.issuer).revoke(hash, ZERO, [], reason))
          .to.emit(registry, "CertificateRevoked").withArgs(hash, CIVIL, ZERO, reason);
      });
    }

    for (const reason of [4, 5, 255]) {
      it(`refuses reason ${reason}${reason === 4 ? " (superseded: only through supersede)" : ""}`, async function () {
        const { registry, accounts, typeIds } = await loadFixture(deployConsortium);
        const hash = randomHash();
        await registry.connect(accounts.issuer).issue(hash, terms(typeIds.marriage, 0));
        await expect(registry.connect(accounts.issuer).revoke(hash, ZERO, [], reason))
          .to.be.revertedWithCustomError(registry, "RegistryInvalidReason").withArgs(reason);
      });
    }

    it("happens once", async function () {
      const { registry, accounts, typeIds } = await loadFixture(deployConsortium);
      const hash = randomHash();
      await registry.connect(accounts.issuer).issue(hash, terms(typeIds.marriage, 0));
      await registry.connect(accounts.issuer).revoke(hash, ZERO, [], 1);
      await expect(registry.connect(accounts.issuer).revoke(hash, ZERO, [], 1))
        .to.be.revertedWithCustomError(registry, "RegistryAlreadyRevoked").withArgs(hash);
    });
  });

  describe("supersession", function () {
    it("names the successor and anchors it", async function () {
      const { registry, accounts, typeIds } = await loadFixture(deployConsortium);
      const [old, successor] = [randomHash(), randomHash()];
      await registry.connect(accounts.issuer).issue(old, terms(typeIds.marriage, 0));
      await expect(registry.connect(accounts.issuer).supersede(old, ZERO, [], successor, 0))
        .to.emit(registry, "CertificateSuperseded").withArgs(old, successor, CIVIL);
      expect((await registry.certificateState(old, ZERO, [])).supersededBy).to.equal(successor);
      expect((await registry.certificateState(successor, ZERO, [])).status).to.equal(BigInt(CertificateStatus.VALID));
    });

    it("is announced as a revocation with reason superseded too", async function () {
      const { registry, accounts, typeIds } = await loadFixture(deployConsortium);
      const [old, successor] = [randomHash(), randomHash()];
      await registry.connect(accounts.issuer).issue(old, terms(typeIds.marriage, 0));
      await expect(registry.connect(accounts.issuer).supersede(old, ZERO, [], successor, 0))
        .to.emit(registry, "CertificateRevoked").withArgs(old, CIVIL, ZERO, 4);
      expect((await registry.certificateState(old, ZERO, [])).revocationReason).to.equal(4n);
    });

    it("can be followed along a chain", async function () {
      const { registry, accounts, typeIds } = await loadFixture(deployConsortium);
      const chain = [randomHash(), randomHash(), randomHash()];
      await registry.connect(accounts.issuer).issue(chain[0], terms(typeIds.marriage, 0));
      await registry.connect(accounts.issuer).supersede(chain[0], ZERO, [], chain[1], 0);
      await registry.connect(accounts.issuer).supersede(chain[1], ZERO, [], chain[2], 0);
      let current = chain[0];
      const followed = [current];
      for (;;) {
        const next = (await registry.certificateState(current, ZERO, [])).supersededBy;
        if (next === ZERO) break;
        followed.push((current = next));
      }
      expect(followed).to.deep.equal(chain);
    });

    it("replaces a batch member by a single certificate", async function () {
      const { registry, accounts, members, tree } = await loadFixture(withBatch);
      const successor = randomHash();
      await registry.connect(accounts.issuer).supersede(members[2], tree.root, proofOf(tree, members[2]), successor, 0);
      const state = await registry.certificateState(members[2], tree.root, proofOf(tree, members[2]));
      expect([state.status, state.supersededBy]).to.deep.equal([BigInt(CertificateStatus.SUPERSEDED), successor]);
    });

    it("is refused to another type's issuer", async function () {
      const { registry, accounts, typeIds } = await loadFixture(deployConsortium);
      const hash = randomHash();
      await registry.connect(accounts.otherIssuer).issue(hash, terms(typeIds.property, 0));
      await expect(registry.connect(accounts.issuer).supersede(hash, ZERO, [], randomHash(), 0))
        .to.be.revertedWithCustomError(registry, "RegistryNotIssuer").withArgs(hash, CIVIL);
    });
  });

  describe("issuance permits", function () {
    async function withPermit() {
      const network = await deployConsortium();
      await network.registry.connect(network.accounts.issuer).issue(randomHash(), terms(network.typeIds.marriage, 0));
      return network;
    }

    const permitOf = async (registry, key, typeId) => [...(await registry.issuancePermit(key.address, typeId))];

    it("remembers the first issuance's full check for the key and type", async function () {
      const { registry, consortium, accounts, typeIds } = await loadFixture(withPermit);
      expect(await consortium.issuancePermits()).to.equal(registry.target);
      expect(await permitOf(registry, accounts.issuer, typeIds.marriage))
        .to.deep.equal([await consortium.departmentId(CIVIL), typeIds.marriage, 1n]);
    });

    it("keeps it for that key and type id only", async function () {
      const { registry, accounts, typeIds } = await loadFixture(withPermit);
      expect([await permitOf(registry, accounts.issuer, typeIds.property), await permitOf(registry, accounts.otherIssuer,
        typeIds.marriage)]).to.deep.equal([[0n, 0n, 0n], [0n, 0n, 0n]]);
    });

    it("forgets it when the department is suspended, and refuses the next issuance", async function () {
      const { registry, consortium, governors, accounts, typeIds } = await loadFixture(withPermit);
      await govern(consortium, governors, [await consortium.setStatus.populateTransaction(CIVIL, Status.SUSPENDED)]);
      expect(await permitOf(registry, accounts.issuer, typeIds.marriage)).to.deep.equal([0n, 0n, 0n]);
      await expect(registry.connect(accounts.issuer).issue(randomHash(), terms(typeIds.marriage, 0)))
        .to.be.revertedWithCustomError(consortium, "ConsortiumDepartmentNotActive").withArgs(CIVIL, Status.SUSPENDED);
    });

    it("forgets it when the key is rotated away, and refuses the old key", async function () {
      const { registry, consortium, accounts, typeIds } = await loadFixture(withPermit);
      const [newKey] = accounts.spare;
      await consortium.connect(accounts.issuer).rotateKey(CIVIL, accounts.issuer.address, newKey.address);
      await expect(registry.connect(accounts.issuer).issue(randomHash(), terms(typeIds.marriage, 0)))
        .to.be.revertedWithCustomError(consortium, "ConsortiumUnknownKey").withArgs(accounts.issuer.address);
    });

    it("forgets it when the issuer is withdrawn from the type, and refuses the next issuance", async function () {
      const { registry, catalog, accounts, typeIds } = await loadFixture(withPermit);
      await catalog.connect(accounts.issuer).setIssuer(MARRIAGE, CIVIL, false);
      await expect(registry.connect(accounts.issuer).issue(randomHash(), terms(typeIds.marriage, 0)))
        .to.be.revertedWithCustomError(catalog, "CatalogIssuerNotAuthorised").withArgs(MARRIAGE, CIVIL);
    });

    it("forgets it when a version is published, so the next issuance records the new version", async function () {
      const { registry, catalog, accounts, typeIds } = await loadFixture(withPermit);
      await catalog.connect(accounts.issuer).publishTypeVersion(MARRIAGE, "0x" + "02".repeat(32));
      const hash = randomHash();
      await registry.connect(accounts.issuer).issue(hash, terms(typeIds.marriage, 0));
      expect((await registry.anchorOf(hash)).typeVersion).to.equal(2n);
    });

    it("empties a full list and can still forget every permit it remembers", async function () {
      const { registry, catalog, consortium, governors, accounts } = await loadFixture(deployConsortium);
      const PERMIT_LIST_LIMIT = 128; // contracts/IssuancePermits.sol
      const types = [];
      for (let i = 0; i <= PERMIT_LIST_LIMIT; ++i) { // one key, one department: its list of permits fills up
        const code = randomHash();
        await catalog.connect(accounts.issuer).registerType(code, SCHEMA_V1, "证照", [CIVIL]);
        types.push(await typeIdOf(catalog, code));
        await registry.connect(accounts.issuer).issue(randomHash(), terms(types[i], 0));
      }
      const [first, last] = [types[0], types[types.length - 1]];
      expect([...(await registry.issuancePermit(accounts.issuer.address, first))]).to.deep.equal([0n, 0n, 0n]);
      expect((await registry.issuancePermit(accounts.issuer.address, last))[0]).to.equal(await consortium.departmentId(CIVIL));
      await govern(consortium, governors, [await consortium.setStatus.populateTransaction(CIVIL, Status.SUSPENDED)]);
      for (const type of [first, last]) {
        await expect(registry.connect(accounts.issuer).issue(randomHash(), terms(type, 0)))
          .to.be.revertedWithCustomError(consortium, "ConsortiumDepartmentNotActive");
      }
    });

    it("lets only its consortium and its catalog make it forget", async function () {
      const { registry, consortium, accounts, typeIds } = await loadFixture(withPermit);
      await expect(registry.connect(accounts.governor).forgetDepartmentPermits(await consortium.departmentId(CIVIL)))
        .to.be.revertedWithCustomError(registry, "PermitsUnauthorised").withArgs(accounts.governor.address);
      await expect(registry.connect(accounts.issuer).forgetTypePermits(typeIds.marriage))
        .to.be.revertedWithCustomError(registry, "PermitsUnauthorised").withArgs(accounts.issuer.address);
    });
  });

  describe("verificationOf", function () {
    it("answers state, the signer's key history and the schema hash in one call", async function () {
      const { registry, accounts, typeIds } = await loadFixture(deployConsortium);
      const hash = randomHash();
      await registry.connect(accounts.issuer).issue(hash, terms(typeIds.marriage, 0));
      const [state, signerWasKey, schemaHash] = await registry.verificationOf(hash, ZERO, [], accounts.issuer.address);
      expect([state.status, signerWasKey, schemaHash]).to.deep.equal([BigInt(CertificateStatus.VALID), true, "0x" + "01".repeat(32)]);
      const [, otherWasKey] = await registry.verificationOf(hash, ZERO, [], accounts.otherIssuer.address);
      expect(otherWasKey).to.equal(false);
    });

    it("answers unknown, false and zero for a hash never anchored", async function () {
      const { registry, accounts } = await loadFixture(deployConsortium);
      const [state, signerWasKey, schemaHash] = await registry.verificationOf(randomHash(), ZERO, [], accounts.issuer.address);
      expect([state.status, signerWasKey, schemaHash]).to.deep.equal([BigInt(CertificateStatus.UNKNOWN), false, ZERO]);
    });
  });
});

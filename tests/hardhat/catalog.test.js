const { expect } = require("chai");
const { loadFixture } = require("@nomicfoundation/hardhat-network-helpers");
const { deployConsortium, govern, code32, randomHash, Role, Status, CIVIL, HOUSING, RELYING, SUSPENDED, MARRIAGE,
  PROPERTY, SERVICE_ITEM, SCHEMA_V1 } = require("./fixtures");

const TypeStatus = { NONE: 0, ACTIVE: 1, DEPRECATED: 2 };

describe("Catalog", function () {
  describe("certificate types", function () {
    it("belong to the department that registered them", async function () {
      const { catalog } = await loadFixture(deployConsortium);
      const type = await catalog.certificateType(MARRIAGE);
      expect(type.owner).to.equal(CIVIL);
      expect(type.version).to.equal(1n);
      expect(type.schemaHash).to.equal(SCHEMA_V1);
    });

    it("are registered once per code", async function () {
      const { catalog, accounts } = await loadFixture(deployConsortium);
      await expect(catalog.connect(accounts.issuer).registerType(MARRIAGE, SCHEMA_V1, "again", [CIVIL]))
        .to.be.revertedWithCustomError(catalog, "CatalogTypeExists").withArgs(MARRIAGE);
    });

    it("get versions that only go up, each staying queryable", async function () {
      const { catalog, accounts } = await loadFixture(deployConsortium);
      const v2 = randomHash();
      await expect(catalog.connect(accounts.issuer).publishTypeVersion(MARRIAGE, v2))
        .to.emit(catalog, "TypeVersionPublished").withArgs(MARRIAGE, 2, v2);
      expect((await catalog.certificateType(MARRIAGE)).version).to.equal(2n);
      expect(await catalog.schemaHash(MARRIAGE, 1)).to.equal(SCHEMA_V1);
      expect(await catalog.schemaHash(MARRIAGE, 2)).to.equal(v2);
    });

    it("are versioned only by their owner", async function () {
      const { catalog, accounts } = await loadFixture(deployConsortium);
      await expect(catalog.connect(accounts.otherIssuer).publishTypeVersion(MARRIAGE, randomHash()))
        .to.be.revertedWithCustomError(catalog, "CatalogNotTypeOwner").withArgs(MARRIAGE, HOUSING);
    });

    it("can be deprecated by governance", async function () {
      const { consortium, catalog, governors } = await loadFixture(deployConsortium);
      await govern(consortium, governors, [await catalog.setTypeStatus.populateTransaction(MARRIAGE, TypeStatus.DEPRECATED)]);
      expect((await catalog.certificateType(MARRIAGE)).status).to.equal(BigInt(TypeStatus.DEPRECATED));
    });

    it("refuse a zero schema hash", async function () {
      const { catalog, accounts } = await loadFixture(deployConsortium);
      await expect(catalog.connect(accounts.issuer).registerType(code32("NEW"), ethers.ZeroHash, "新", [CIVIL]))
        .to.be.revertedWithCustomError(catalog, "CatalogZeroValue");
    });

    it("are numbered 1, 2, ... in registration order, each id naming its code", async function () {
      const { catalog } = await loadFixture(deployConsortium);
      const ids = [(await catalog.certificateType(MARRIAGE)).id, (await catalog.certificateType(PROPERTY)).id];
      expect(ids).to.deep.equal([1n, 2n]);
      expect([await catalog.typeCode(1), await catalog.typeCode(2), await catalog.typeCount()])
        .to.deep.equal([MARRIAGE, PROPERTY, 2n]);
    });

    it("report an unknown code", async function () {
      const { catalog } = await loadFixture(deployConsortium);
      await expect(catalog.certificateType(code32("NOPE")))
        .to.be.revertedWithCustomError(catalog, "CatalogUnknownType").withArgs(code32("NOPE"));
    });

    it("let the owner allow relying departments", async function () {
      const { catalog, accounts } = await loadFixture(deployConsortium);
      await expect(catalog.connect(accounts.issuer).setRelyingDepartment(MARRIAGE, RELYING, true))
        .to.emit(catalog, "RelyingDepartmentChanged").withArgs(MARRIAGE, RELYING, true);
      expect(await catalog.isRelyingDepartment(MARRIAGE, RELYING)).to.equal(true);
    });

    it("let the owner withdraw an issuer's authorisation", async function () {
      const { consortium, catalog, accounts, typeIds } = await loadFixture(deployConsortium);
      await catalog.connect(accounts.issuer).setIssuer(MARRIAGE, CIVIL, false);
      const civilId = await consortium.departmentId(CIVIL);
      await expect(catalog.issuanceVersion(typeIds.marriage, civilId))
        .to.be.revertedWithCustomError(catalog, "CatalogIssuerNotAuthorised").withArgs(MARRIAGE, CIVIL);
    });
  });

  describe("issuanceVersion", function () {
    it("gives an authorised issuer the type's current version", async function () {
      const { consortium, catalog, accounts, typeIds } = await loadFixture(deployConsortium);
      await catalog.connect(accounts.issuer).publishTypeVersion(MARRIAGE, randomHash());
      expect(await catalog.issuanceVersion(typeIds.marriage, await consortium.departmentId(CIVIL))).to.equal(2n);
    });

    it("refuses a deprecated type", async function () {
      const { consortium, catalog, accounts, typeIds } = await loadFixture(deployConsortium);
      await catalog.connect(accounts.issuer).setTypeStatus(MARRIAGE, TypeStatus.DEPRECATED);
      await expect(catalog.issuanceVersion(typeIds.marriage, await consortium.departmentId(CIVIL)))
        .to.be.revertedWithCustomError(catalog, "CatalogTypeDeprecated").withArgs(MARRIAGE);
    });

    it("refuses a department the type does not authorise", async function () {
      const { consortium, catalog, typeIds } = await loadFixture(deployConsortium);
      await expect(catalog.issuanceVersion(typeIds.marriage, await consortium.departmentId(HOUSING)))
        .to.be.revertedWithCustomError(catalog, "CatalogIssuerNotAuthorised").withArgs(MARRIAGE, HOUSING);
    });

    for (const [label, unknownId] of [["0", async () => 0n], ["beyond the last registered", async (c) => (await c.typeCount()) + 1n]]) {
      it(`refuses type id ${label}, which no type has`, async function () {
        const { consortium, catalog } = await loadFixture(deployConsortium);
        const id = await unknownId(catalog);
        await expect(catalog.issuanceVersion(id, await consortium.departmentId(CIVIL)))
          .to.be.revertedWithCustomError(catalog, "CatalogUnknownTypeId").withArgs(id);
      });
    }
  });

  describe("service items", function () {
    it("list the types they need", async function () {
      const { catalog } = await loadFixture(deployConsortium);
      const item = await catalog.serviceItem(SERVICE_ITEM);
      expect(item.owner).to.equal(RELYING);
      expect(item.requiredTypes).to.deep.equal([MARRIAGE, code32("PROPERTY-CERT")]);
    });

    it("are registered only by relying parties", async function () {
      const { consortium, catalog, accounts } = await loadFixture(deployConsortium);
      await expect(catalog.connect(accounts.auditor).registerServiceItem(randomHash(), "事项", [MARRIAGE]))
        .to.be.revertedWithCustomError(consortium, "ConsortiumMissingRole").withArgs(code32("AUDIT-OFFICE"), Role.RELYING_PARTY);
    });

    it("are handled by their owner and the departments it adds", async function () {
      const { catalog, accounts } = await loadFixture(deployConsortium);
      expect(await catalog.isServiceItemHandler(SERVICE_ITEM, RELYING)).to.equal(true);
      await expect(catalog.connect(accounts.relying).setServiceItemHandler(SERVICE_ITEM, HOUSING, true))
        .to.emit(catalog, "ServiceItemHandlerChanged").withArgs(SERVICE_ITEM, HOUSING, true);
      expect(await catalog.isServiceItemHandler(SERVICE_ITEM, HOUSING)).to.equal(true);
    });

    it("take handlers only from their owner", async function () {
      const { catalog, accounts } = await loadFixture(deployConsortium);
      await expect(catalog.connect(accounts.issuer).setServiceItemHandler(SERVICE_ITEM, HOUSING, true))
        .to.be.revertedWithCustomError(catalog, "CatalogNotServiceItemOwner").withArgs(SERVICE_ITEM, CIVIL);
    });

    it("refuse an unknown required type", async function () {
      const { catalog, accounts } = await loadFixture(deployConsortium);
      await expect(catalog.connect(accounts.relying).registerServiceItem(randomHash(), "事项", [code32("NOPE")]))
        .to.be.revertedWithCustomError(catalog, "CatalogUnknownType").withArgs(code32("NOPE"));
    });
  });

  describe("ownership", function () {
    it("passes a type to another department by its owner's call", async function () {
      const { catalog, accounts } = await loadFixture(deployConsortium);
      await expect(catalog.connect(accounts.issuer).transferTypeOwnership(MARRIAGE, HOUSING))
        .to.emit(catalog, "TypeOwnershipTransferred").withArgs(MARRIAGE, CIVIL, HOUSING);
      expect((await catalog.certificateType(MARRIAGE)).owner).to.equal(HOUSING);
      await catalog.connect(accounts.otherIssuer).publishTypeVersion(MARRIAGE, randomHash());
      await expect(catalog.connect(accounts.issuer).setRelyingDepartment(MARRIAGE, RELYING, true))
        .to.be.revertedWithCustomError(catalog, "CatalogNotTypeOwner").withArgs(MARRIAGE, CIVIL);
    });

    it("refuses a type's transfer by another department", async function () {
      const { catalog, accounts } = await loadFixture(deployConsortium);
      await expect(catalog.connect(accounts.otherIssuer).transferTypeOwnership(MARRIAGE, HOUSING))
        .to.be.revertedWithCustomError(catalog, "CatalogNotTypeOwner").withArgs(MARRIAGE, HOUSING);
    });

    it("passes a type or item only to an active department", async function () {
      const { catalog, accounts } = await loadFixture(deployConsortium);
      await expect(catalog.connect(accounts.issuer).transferTypeOwnership(MARRIAGE, SUSPENDED))
        .to.be.revertedWithCustomError(catalog, "CatalogNewOwnerNotActive").withArgs(SUSPENDED);
      await expect(catalog.connect(accounts.relying).transferServiceItemOwnership(SERVICE_ITEM, SUSPENDED))
        .to.be.revertedWithCustomError(catalog, "CatalogNewOwnerNotActive").withArgs(SUSPENDED);
    });

    it("passes a service item, with its handling, by its owner's call", async function () {
      const { catalog, accounts } = await loadFixture(deployConsortium);
      await expect(catalog.connect(accounts.relying).transferServiceItemOwnership(SERVICE_ITEM, HOUSING))
        .to.emit(catalog, "ServiceItemOwnershipTransferred").withArgs(SERVICE_ITEM, RELYING, HOUSING);
      expect((await catalog.serviceItem(SERVICE_ITEM)).owner).to.equal(HOUSING);
      expect(await catalog.isServiceItemHandler(SERVICE_ITEM, HOUSING)).to.equal(true);
      expect(await catalog.isServiceItemHandler(SERVICE_ITEM, RELYING)).to.equal(false);
    });

    it("refuses a service item's transfer by another department", async function () {
      const { catalog, accounts } = await loadFixture(deployConsortium);
      await expect(catalog.connect(accounts.issuer).transferServiceItemOwnership(SERVICE_ITEM, CIVIL))
        .to.be.revertedWithCustomError(catalog, "CatalogNotServiceItemOwner").withArgs(SERVICE_ITEM, CIVIL);
    });
  });

  describe("governance in a removed owner's place", function () {
    async function ownersRemoved() {
      const network = await deployConsortium();
      const { consortium, governors } = network;
      await govern(consortium, governors, [
        await consortium.setStatus.populateTransaction(CIVIL, Status.REMOVED),
        await consortium.setStatus.populateTransaction(RELYING, Status.REMOVED),
      ]);
      return network;
    }

    it("publishes a type version", async function () {
      const { consortium, catalog, governors } = await loadFixture(ownersRemoved);
      const v2 = randomHash();
      await expect(govern(consortium, governors, [await catalog.publishTypeVersion.populateTransaction(MARRIAGE, v2)]))
        .to.emit(catalog, "TypeVersionPublished").withArgs(MARRIAGE, 2, v2);
    });

    it("allows a relying department", async function () {
      const { consortium, catalog, governors } = await loadFixture(ownersRemoved);
      await govern(consortium, governors, [await catalog.setRelyingDepartment.populateTransaction(MARRIAGE, HOUSING, true)]);
      expect(await catalog.isRelyingDepartment(MARRIAGE, HOUSING)).to.equal(true);
    });

    it("allows a service item", async function () {
      const { consortium, catalog, governors } = await loadFixture(ownersRemoved);
      await govern(consortium, governors, [await catalog.setServiceItemUse.populateTransaction(MARRIAGE, SERVICE_ITEM, true)]);
      expect(await catalog.isServiceItemAllowed(MARRIAGE, SERVICE_ITEM)).to.equal(true);
    });

    it("adds a service item handler", async function () {
      const { consortium, catalog, governors } = await loadFixture(ownersRemoved);
      await govern(consortium, governors, [await catalog.setServiceItemHandler.populateTransaction(SERVICE_ITEM, HOUSING, true)]);
      expect(await catalog.isServiceItemHandler(SERVICE_ITEM, HOUSING)).to.equal(true);
    });

    it("hands the type and the item to other departments", async function () {
      const { consortium, catalog, governors } = await loadFixture(ownersRemoved);
      await expect(govern(consortium, governors, [
        await catalog.transferTypeOwnership.populateTransaction(MARRIAGE, HOUSING),
        await catalog.transferServiceItemOwnership.populateTransaction(SERVICE_ITEM, HOUSING),
      ])).to.emit(catalog, "TypeOwnershipTransferred").withArgs(MARRIAGE, CIVIL, HOUSING)
        .and.to.emit(catalog, "ServiceItemOwnershipTransferred").withArgs(SERVICE_ITEM, RELYING, HOUSING);
    });

    it("while the removed owner itself can change nothing", async function () {
      const { consortium, catalog, accounts } = await loadFixture(ownersRemoved);
      await expect(catalog.connect(accounts.issuer).transferTypeOwnership(MARRIAGE, HOUSING))
        .to.be.revertedWithCustomError(consortium, "ConsortiumDepartmentNotActive").withArgs(CIVIL, Status.REMOVED);
    });
  });

  describe("catalog snapshots", function () {
    it("keep every version of a department's catalog", async function () {
      const { catalog, accounts } = await loadFixture(deployConsortium);
      const first = randomHash();
      const second = randomHash();
      await expect(catalog.connect(accounts.issuer).anchorCatalogSnapshot(first, "https://mz/v1.json"))
        .to.emit(catalog, "CatalogSnapshotAnchored").withArgs(CIVIL, 1, first, "https://mz/v1.json");
      await catalog.connect(accounts.issuer).anchorCatalogSnapshot(second, "https://mz/v2.json");
      expect(await catalog.snapshotCount(CIVIL)).to.equal(2n);
      expect((await catalog.snapshot(CIVIL, 1)).contentHash).to.equal(first);
      expect((await catalog.snapshot(CIVIL, 2)).uri).to.equal("https://mz/v2.json");
    });

    it("report a missing version", async function () {
      const { catalog } = await loadFixture(deployConsortium);
      await expect(catalog.snapshot(CIVIL, 1)).to.be.revertedWithCustomError(catalog, "CatalogUnknownSnapshot").withArgs(CIVIL, 1);
    });

    it("are refused to outsiders", async function () {
      const { consortium, catalog, accounts } = await loadFixture(deployConsortium);
      await expect(catalog.connect(accounts.outsider).anchorCatalogSnapshot(randomHash(), "x"))
        .to.be.revertedWithCustomError(consortium, "ConsortiumUnknownKey").withArgs(accounts.outsider.address);
    });
  });
});

// The consortium every Hardhat test starts from (as tests/conftest.py builds it for pytest):
// three founding governors with quorum 2, then, through governance, civil affairs (issues
// marriage certificates), housing (property certificates), a relying party, an auditor, a log
// operator (registered as the operator of ACCESS_LOG) and a department that is suspended after being admitted.
const { ethers } = require("hardhat");

/** A short ASCII code as a right-padded bytes32, like ledger_node.types.code32. */
const code32 = (text) => ethers.encodeBytes32String(text);
const randomHash = () => ethers.hexlify(ethers.randomBytes(32));
const ZERO = ethers.ZeroHash;

const Role = { ISSUER: 1, RELYING_PARTY: 2, AUDITOR: 4, GOVERNOR: 8, LOG_OPERATOR: 16 };
const Status = { NONE: 0, ACTIVE: 1, SUSPENDED: 2, REMOVED: 3 };
const CertificateStatus = { UNKNOWN: 0, VALID: 1, EXPIRED: 2, REVOKED: 3, SUPERSEDED: 4 };

const GOV1 = code32("GOV-1");
const GOV2 = code32("GOV-2");
const GOV3 = code32("GOV-3");
const CIVIL = code32("CIVIL-AFFAIRS");
const HOUSING = code32("HOUSING");
const RELYING = code32("TAX-BUREAU");
const AUDITOR = code32("AUDIT-OFFICE");
const OPERATOR = code32("BIG-DATA-BUREAU");
const SUSPENDED = code32("SUSPENDED-DEPT");
const MARRIAGE = code32("MARRIAGE-CERT");
const PROPERTY = code32("PROPERTY-CERT");
const SERVICE_ITEM = code32("PROPERTY-REGISTRATION");
const SCHEMA_V1 = "0x" + "01".repeat(32);
const ACCESS_LOG = code32("ACCESS-LOG");
/** The lifetime of the tests' proposals (ledger_node.types.PROPOSAL_LIFETIME); Common.sol MAX_PROPOSAL_LIFETIME. */
const PROPOSAL_LIFETIME = 7 * 24 * 3600;
const MAX_PROPOSAL_LIFETIME = 30 * 24 * 3600;

/** The registry's `terms` word (issue, anchorBatch): the type's catalog id in the low 32 bits, the
 * end of validity (0: no end) in the next 40, `typeId | validUntil << 32`. */
const terms = (typeId, validUntil = 0) => BigInt(typeId) | (BigInt(validUntil) << 32n);
/** A type's numeric id, as the catalog gives it (1, 2, ... in registration order). */
const typeIdOf = async (catalog, code) => (await catalog.certificateType(code)).id;

/** Proposes `calls` (populated transactions) as `governor`; the proposal's id and its encoded calls. */
async function propose(consortium, governor, calls, { description = "test proposal", lifetime = PROPOSAL_LIFETIME } = {}) {
  const encoded = calls.map((c) => ({ target: c.to, data: c.data }));
  const receipt = await (await consortium.connect(governor).propose(encoded, description, lifetime)).wait();
  const id = receipt.logs.map((l) => consortium.interface.parseLog(l)).find((e) => e?.name === "ProposalCreated")
    .args.proposalId;
  return { id, encoded };
}

/** Runs `calls` (populated transactions) through a proposal approved by two governors. */
async function govern(consortium, [governor, governor2], calls, description = "test proposal") {
  const { id, encoded } = await propose(consortium, governor, calls, { description });
  await consortium.connect(governor2).approve(id);
  return consortium.connect(governor).execute(id, encoded);
}

async function deployConsortium() {
  const signers = await ethers.getSigners();
  const [deployer, governor, governor2, governor3, issuer, otherIssuer, relying, auditor, operator, suspended, outsider] =
    signers;
  const founders = [
    { code: GOV1, name: "治理部门一", roles: Role.GOVERNOR, keys: [governor.address] },
    { code: GOV2, name: "治理部门二", roles: Role.GOVERNOR, keys: [governor2.address] },
    { code: GOV3, name: "治理部门三", roles: Role.GOVERNOR, keys: [governor3.address] },
  ];
  // The consortium names the registry (the deployer's third contract from here) before it exists.
  const registryAddress = ethers.getCreateAddress({ from: deployer.address, nonce: (await deployer.getNonce()) + 2 });
  const consortium = await ethers.deployContract("Consortium", [founders, 2, 0, registryAddress], deployer);
  const catalog = await ethers.deployContract("Catalog", [consortium.target], deployer);
  const registry = await ethers.deployContract("CertificateRegistry", [consortium.target, catalog.target, ethers.ZeroAddress],
    deployer);
  const checkpoints = await ethers.deployContract("AuditCheckpoints", [consortium.target], deployer);
  const governors = [governor, governor2];
  const admit = (code, name, roles, key) => consortium.admitDepartment.populateTransaction(code, name, roles, [key.address]);
  await govern(consortium, governors, [
    await admit(CIVIL, "民政局", Role.ISSUER, issuer),
    await admit(HOUSING, "住房和城乡建设局", Role.ISSUER, otherIssuer),
    await admit(RELYING, "税务局", Role.RELYING_PARTY, relying),
    await admit(AUDITOR, "审计局", Role.AUDITOR, auditor),
    await admit(OPERATOR, "大数据管理局", Role.LOG_OPERATOR, operator),
    await admit(SUSPENDED, "停用部门", Role.ISSUER, suspended),
    await checkpoints.setLogOperator.populateTransaction(ACCESS_LOG, OPERATOR),
  ]);
  await catalog.connect(issuer).registerType(MARRIAGE, SCHEMA_V1, "结婚证", [CIVIL, SUSPENDED]);
  await catalog.connect(otherIssuer).registerType(PROPERTY, SCHEMA_V1, "不动产权证书", [HOUSING]);
  await catalog.connect(relying).registerServiceItem(SERVICE_ITEM, "不动产登记", [MARRIAGE, PROPERTY]);
  await govern(consortium, governors, [await consortium.setStatus.populateTransaction(SUSPENDED, Status.SUSPENDED)]);
  const typeIds = { marriage: await typeIdOf(catalog, MARRIAGE), property: await typeIdOf(catalog, PROPERTY) };
  return {
    consortium, catalog, registry, checkpoints, governors, typeIds,
    accounts: { deployer, governor, governor2, governor3, issuer, otherIssuer, relying, auditor, operator, suspended,
      outsider, spare: signers.slice(11) },
  };
}

module.exports = {
  code32, randomHash, terms, typeIdOf, propose, govern, deployConsortium, ZERO, Role, Status, CertificateStatus,
  GOV1, GOV2, GOV3, CIVIL, HOUSING, RELYING, AUDITOR, OPERATOR, SUSPENDED, MARRIAGE, PROPERTY, SERVICE_ITEM, SCHEMA_V1,
  ACCESS_LOG, PROPOSAL_LIFETIME, MAX_PROPOSAL_LIFETIME,
};

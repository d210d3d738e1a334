// Hardhat 2 (runs on the machine's Node 20) compiling contracts/ with the pinned npm solc
// (solcjs): no compiler download. Settings equal ledger_node/compiler.py's, so the bytecode is
// the same on both paths.
const path = require("path");
const { subtask } = require("hardhat/config");
const { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } = require("hardhat/builtin-tasks/task-names");
require("@nomicfoundation/hardhat-ethers");
require("@nomicfoundation/hardhat-chai-matchers");

const SOLC_VERSION = require("./package.json").devDependencies.solc;
const DEV_MNEMONIC = "test test test test test test test test test test test junk";

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args, hre, runSuper) => {
  if (args.solcVersion !== SOLC_VERSION) return runSuper();
  return {
    compilerPath: require.resolve("solc/soljson.js"),
    isSolcJs: true,
    version: SOLC_VERSION,
    longVersion: require("solc").version(),
  };
});

/** @type import('hardhat/config').HardhatUserConfig */
module.exports = {
  solidity: {
    version: SOLC_VERSION,
    settings: { optimizer: { enabled: true, runs: 200 }, viaIR: true, evmVersion: "paris" },
  },
  networks: {
    // The same development accounts as ganache, anvil and the embedded engine (64: one per
    // department of the city-scale demo).
    hardhat: { accounts: { mnemonic: DEV_MNEMONIC, count: 64 }, hardfork: "shanghai" },
  },
  paths: {
    sources: "./contracts",
    tests: "./tests/hardhat",
    cache: "./cache",
    artifacts: "./hardhat-artifacts",
  },
  mocha: { timeout: 120000 },
};

// Writes tests/vectors/merkle.json: OpenZeppelin StandardMerkleTree roots, leaf hashes and proofs
// for batches of certificate hashes of several sizes. The JS suite checks the file against the
// library and the registry; the Python suite checks gateway/certificates/merkle.py against it.
// Usage: node scripts/merkle_vectors.js
const fs = require("fs");
const path = require("path");
const { StandardMerkleTree } = require("@openzeppelin/merkle-tree");
const { keccak256, toUtf8Bytes } = require("ethers");

const SIZES = [1, 2, 3, 7, 8, 33];

function vectors() {
  return SIZES.map((size) => {
    const values = Array.from({ length: size }, (_, i) => keccak256(toUtf8Bytes(`certificate-${size}-${i}`)));
    const tree = StandardMerkleTree.of(values.map((v) => [v]), ["bytes32"]);
    return {
      size,
      root: tree.root,
      members: values.map((value) => ({ value, leaf: tree.leafHash([value]), proof: tree.getProof([value]) })),
    };
  });
}

if (require.main === module) {
  const out = path.join(__dirname, "..", "tests", "vectors", "merkle.json");
  fs.writeFileSync(out, JSON.stringify(vectors(), null, 2) + "\n");
  console.log(`wrote ${out}`);
}

module.exports = { vectors };

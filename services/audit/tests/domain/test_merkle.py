"""RFC 6962 Merkle trees against the Certificate Transparency vectors and against tampering."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mts1b_operations.audit.domain import (
    EMPTY_ROOT,
    MerkleAccumulator,
    MerkleTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    merkle_root,
    node_hash,
    verify_consistency,
    verify_inclusion,
)

# transparency-dev/merkle testonly/constants.go: the leaves and the root of every prefix.
CT_LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# transparency-dev/merkle proof/verify_test.go (leaf index there is 1-based; here 0-based).
CT_INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CT_CONSISTENCY = [
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]

LEAVES = [hashlib.sha256(str(i).encode()).digest() for i in range(64)]


def flip(data: bytes, index: int = 0) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x08]) + data[index + 1 :]


def test_the_empty_root_is_sha256_of_nothing() -> None:
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT
    assert merkle_root([]) == EMPTY_ROOT
    assert MerkleTree().root() == EMPTY_ROOT
    assert MerkleAccumulator().root() == EMPTY_ROOT


def test_leaf_and_node_hashes_use_the_rfc6962_prefixes() -> None:
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert node_hash(b"L", b"R") == hashlib.sha256(b"\x01LR").digest()


@pytest.mark.parametrize("size", range(len(CT_ROOTS)))
def test_roots_match_certificate_transparency(size: int) -> None:
    expected = bytes.fromhex(CT_ROOTS[size])
    assert merkle_root(CT_LEAVES[:size]) == expected
    assert MerkleTree(CT_LEAVES).root(size) == expected
    accumulator = MerkleAccumulator()
    accumulator.extend(CT_LEAVES[:size])
    assert accumulator.root() == expected


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_inclusion_proofs_match_certificate_transparency(index: int, size: int, path: list[str]) -> None:
    expected = [bytes.fromhex(p) for p in path]
    assert inclusion_proof(index, CT_LEAVES[:size]) == expected
    assert MerkleTree(CT_LEAVES).inclusion_proof(index, size) == expected
    assert verify_inclusion(CT_LEAVES[index], index, size, expected, bytes.fromhex(CT_ROOTS[size]))


@pytest.mark.parametrize(("first", "second", "path"), CT_CONSISTENCY)
def test_consistency_proofs_match_certificate_transparency(first: int, second: int, path: list[str]) -> None:
    expected = [bytes.fromhex(p) for p in path]
    assert consistency_proof(first, CT_LEAVES[:second]) == expected
    assert MerkleTree(CT_LEAVES).consistency_proof(first, second) == expected
    assert verify_consistency(
        first, second, expected, bytes.fromhex(CT_ROOTS[first]), bytes.fromhex(CT_ROOTS[second])
    )


def test_every_leaf_of_every_tree_up_to_40_proves_and_no_tampering_does() -> None:
    tree = MerkleTree(LEAVES[:40])
    for size in range(1, 41):
        root = tree.root(size)
        assert root == merkle_root(LEAVES[:size])
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            assert proof == inclusion_proof(index, LEAVES[:size])
            leaf = LEAVES[index]
            assert verify_inclusion(leaf, index, size, proof, root)
            assert not verify_inclusion(flip(leaf), index, size, proof, root)
            assert not verify_inclusion(leaf, index, size, proof, flip(root))
            for i in range(len(proof)):
                assert not verify_inclusion(
                    leaf, index, size, [*proof[:i], flip(proof[i], i), *proof[i + 1 :]], root
                )
            if size > 1:
                assert not verify_inclusion(leaf, (index + 1) % size, size, proof, root)
                assert not verify_inclusion(leaf, index, size, [*proof, proof[0]], root)
                assert not verify_inclusion(leaf, index, size, proof[:-1], root)
            assert not verify_inclusion(leaf, index, size * 2, proof, root)
            assert not verify_inclusion(leaf, index, index, proof, root)


def test_every_consistency_proof_up_to_32_verifies_and_no_tampering_does() -> None:
    tree = MerkleTree(LEAVES[:32])
    for second in range(1, 33):
        second_root = tree.root(second)
        for first in range(0, second + 1):
            first_root = tree.root(first)
            proof = tree.consistency_proof(first, second)
            assert proof == consistency_proof(first, LEAVES[:second])
            assert verify_consistency(first, second, proof, first_root, second_root)
            if first in (0, second):
                assert proof == []
                continue
            assert not verify_consistency(first, second, proof, flip(first_root), second_root)
            assert not verify_consistency(first, second, proof, first_root, flip(second_root))
            assert not verify_consistency(first, second, proof[:-1], first_root, second_root)
            assert not verify_consistency(first, second, [*proof, proof[0]], first_root, second_root)
            assert not verify_consistency(first, second, [], first_root, second_root)
            for i in range(len(proof)):
                tampered = [*proof[:i], flip(proof[i], i), *proof[i + 1 :]]
                assert not verify_consistency(first, second, tampered, first_root, second_root)


def test_a_forked_history_has_no_consistency_proof() -> None:
    honest = MerkleTree(LEAVES[:20])
    forked = MerkleTree([*LEAVES[:9], hashlib.sha256(b"forged").digest(), *LEAVES[10:20]])
    proof = forked.consistency_proof(12, 20)
    assert not verify_consistency(12, 20, proof, honest.root(12), forked.root())


def test_trivial_consistency_cases() -> None:
    root = merkle_root(LEAVES[:5])
    assert verify_consistency(5, 5, [], root, root)
    assert not verify_consistency(5, 5, [], root, flip(root))
    assert not verify_consistency(5, 5, [root], root, root)
    assert verify_consistency(0, 5, [], EMPTY_ROOT, root)
    assert not verify_consistency(6, 5, [], root, root)


def test_out_of_range_proof_requests_are_refused() -> None:
    tree = MerkleTree(LEAVES[:5])
    with pytest.raises(ValueError, match="index"):
        tree.inclusion_proof(5)
    with pytest.raises(ValueError, match="size"):
        tree.root(6)
    with pytest.raises(ValueError, match="first_size"):
        tree.consistency_proof(6)
    assert not verify_inclusion(LEAVES[0], 0, 0, [], EMPTY_ROOT)
    assert not verify_inclusion(LEAVES[0], 0, 1, [], b"short")


@given(st.lists(st.binary(max_size=40), max_size=70), st.data())
def test_append_extend_and_accumulate_agree(leaves: list[bytes], data: st.DataObject) -> None:
    appended = MerkleTree()
    for leaf in leaves:
        appended.append(leaf)
    cut = data.draw(st.integers(0, len(leaves)))
    extended = MerkleTree(leaves[:cut])
    extended.extend(leaves[cut:])
    accumulator = MerkleAccumulator()
    accumulator.extend(leaves[:cut])
    for leaf in leaves[cut:]:
        accumulator.append(leaf)
    expected = merkle_root(leaves)
    assert appended.root() == extended.root() == accumulator.root() == expected
    assert appended.size == extended.size == accumulator.size == len(leaves)
    for size in range(len(leaves) + 1):
        assert extended.root(size) == merkle_root(leaves[:size])
    if leaves:
        index = data.draw(st.integers(0, len(leaves) - 1))
        assert appended.leaf_hash_at(index) == leaf_hash(leaves[index])
        assert appended.inclusion_proof(index) == extended.inclusion_proof(index)

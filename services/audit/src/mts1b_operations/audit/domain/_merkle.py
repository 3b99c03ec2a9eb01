"""RFC 6962 / RFC 9162 Merkle tree hashes, inclusion and consistency proofs.

Leaf hash ``SHA-256(0x00 || leaf)``, node hash ``SHA-256(0x01 || left || right)``, the root of
n leaves split at the largest power of two below n, the empty tree's root ``SHA-256("")``.
In the audit chain the leaf of entry ``sequence`` is its 32-byte hash, at index ``sequence``.

:class:`MerkleTree` keeps every complete subtree, level by level (32 bytes per node, about
64 MB for 10**6 leaves), so roots and proofs for any earlier size cost O(log n) hashes.
:class:`MerkleAccumulator` keeps only the O(log n) right edge, for streaming roots.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "MerkleAccumulator",
    "MerkleTree",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "merkle_root",
    "node_hash",
    "verify_consistency",
    "verify_inclusion",
]

_HASH_SIZE = 32
_sha256 = hashlib.sha256

EMPTY_ROOT = _sha256(b"").digest()
"""The root of the empty tree: SHA-256 of the empty string."""


def leaf_hash(leaf: bytes) -> bytes:
    """``SHA-256(0x00 || leaf)``."""
    return _sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return _sha256(b"\x01" + left + right).digest()


def merkle_root(leaves: Iterable[bytes]) -> bytes:
    """MTH(D[n]) of RFC 6962, computed level by level."""
    level = [_sha256(b"\x00" + leaf).digest() for leaf in leaves]
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        # An odd node out is promoted unchanged: the same tree as splitting at the largest
        # power of two, since every left subtree of that split is complete.
        paired = [_sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(index, D[n]) of RFC 6962: the audit path of leaf ``index``, leaf level first."""
    return MerkleTree(leaves).inclusion_proof(index)


def consistency_proof(first_size: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 6962: proves the tree of the first ``first_size`` leaves is a prefix."""
    return MerkleTree(leaves).consistency_proof(first_size)


def verify_inclusion(leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 2.1.3.2: does ``proof`` put ``leaf`` at ``index`` in the ``tree_size`` tree of ``root``?"""
    if not 0 <= index < tree_size or not _all_hashes(proof) or len(root) != _HASH_SIZE:
        return False
    fn, sn = index, tree_size - 1
    r = leaf_hash(leaf)
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first_size: int, second_size: int, proof: Sequence[bytes], first_root: bytes, second_root: bytes
) -> bool:
    """RFC 9162 2.1.4.2: does ``proof`` show the ``first_size`` tree is a prefix of the ``second_size`` one?

    Sizes 0 and equal sizes need an empty proof (and, for equal sizes, equal roots).
    """
    if not 0 <= first_size <= second_size or not _all_hashes(proof):
        return False
    if len(first_root) != _HASH_SIZE or len(second_root) != _HASH_SIZE:
        return False
    if first_size == second_size:
        return not proof and first_root == second_root
    if first_size == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if first_size & (first_size - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first_size - 1, second_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


class MerkleTree:
    """An append-only RFC 6962 tree that keeps every complete subtree.

    ``levels[h]`` holds, 32 bytes each, the hashes of the complete subtrees of ``2**h`` leaves
    in order; the node covering leaves ``[i * 2**h, (i + 1) * 2**h)`` is at index ``i``.
    """

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        self._levels: list[bytearray] = [bytearray()]
        self.extend(leaves)

    @property
    def size(self) -> int:
        """The number of leaves."""
        return len(self._levels[0]) // _HASH_SIZE

    def append(self, leaf: bytes) -> None:
        """Add one leaf (in the audit chain: the next entry's 32-byte hash)."""
        node = leaf_hash(leaf)
        index = self.size
        self._levels[0] += node
        height = 0
        while index & 1:
            node = node_hash(self._node(height, index - 1), node)
            height += 1
            index >>= 1
            if height == len(self._levels):
                self._levels.append(bytearray())
            self._levels[height] += node

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Add many leaves; batched level by level, so 10**6 leaves take about a second."""
        added = b"".join(_sha256(b"\x00" + leaf).digest() for leaf in leaves)
        if not added:
            return
        self._levels[0] += added
        height = 0
        while True:
            below = self._levels[height]
            pairs = len(below) // (2 * _HASH_SIZE)
            if height + 1 == len(self._levels):
                if pairs == 0:
                    return
                self._levels.append(bytearray())
            above = self._levels[height + 1]
            done = len(above) // _HASH_SIZE
            if done == pairs:
                return
            view = bytes(below[done * 2 * _HASH_SIZE : pairs * 2 * _HASH_SIZE])
            above += b"".join(
                _sha256(b"\x01" + view[i : i + 2 * _HASH_SIZE]).digest()
                for i in range(0, len(view), 2 * _HASH_SIZE)
            )
            height += 1

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (all of them by default)."""
        size = self._size_arg(size)
        return self._subtree(0, size) if size else EMPTY_ROOT

    def leaf_hash_at(self, index: int) -> bytes:
        """The leaf hash ``SHA-256(0x00 || leaf)`` of leaf ``index``."""
        if not 0 <= index < self.size:
            raise IndexError(f"index must be in [0, {self.size}), got {index}")
        return self._node(0, index)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[size]): the audit path, leaf level first."""
        size = self._size_arg(size)
        if not 0 <= index < size:
            raise ValueError(f"index must be in [0, {size}), got {index}")
        path: list[bytes] = []
        start, end = 0, size
        while end - start > 1:
            k = _split(end - start)
            if index < start + k:
                path.append(self._subtree(start + k, end))
                end = start + k
            else:
                path.append(self._subtree(start, start + k))
                start += k
        path.reverse()
        return path

    def consistency_proof(self, first_size: int, size: int | None = None) -> list[bytes]:
        """PROOF(first_size, D[size]) of RFC 6962 (empty when first_size is 0 or size)."""
        size = self._size_arg(size)
        if not 0 <= first_size <= size:
            raise ValueError(f"first_size must be in [0, {size}], got {first_size}")
        if first_size in (0, size):
            return []
        proof: list[bytes] = []
        m, start, end, complete = first_size, 0, size, True
        while m != end - start:
            k = _split(end - start)
            if m <= k:
                proof.append(self._subtree(start + k, end))
                end = start + k
            else:
                proof.append(self._subtree(start, start + k))
                start += k
                m -= k
                complete = False
        if not complete:
            proof.append(self._subtree(start, end))
        proof.reverse()
        return proof

    def _size_arg(self, size: int | None) -> int:
        if size is None:
            return self.size
        if not 0 <= size <= self.size:
            raise ValueError(f"size must be in [0, {self.size}], got {size}")
        return size

    def _node(self, height: int, index: int) -> bytes:
        offset = index * _HASH_SIZE
        return bytes(self._levels[height][offset : offset + _HASH_SIZE])

    def _subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) where start is a multiple of the largest power of two <= end - start."""
        width = end - start
        if width & (width - 1) == 0:
            return self._node(width.bit_length() - 1, start // width)
        k = _split(width)
        return node_hash(self._node(k.bit_length() - 1, start // k), self._subtree(start + k, end))


class MerkleAccumulator:
    """The right edge of an RFC 6962 tree (a compact range): streaming roots in O(log n) memory.

    ``_edge[h]`` is the complete subtree of ``2**h`` leaves on the right edge when bit ``h``
    of the size is set, else None.
    """

    def __init__(self) -> None:
        self._size = 0
        self._edge: list[bytes | None] = []

    @property
    def size(self) -> int:
        """The number of leaves added."""
        return self._size

    def append(self, leaf: bytes) -> None:
        """Add one leaf."""
        self.extend((leaf,))

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Add leaves in order (batched level by level)."""
        self.extend_leaf_hashes([_sha256(b"\x00" + leaf).digest() for leaf in leaves])

    def extend_leaf_hashes(self, nodes: list[bytes]) -> None:
        """Add leaves given as their leaf hashes ``SHA-256(0x00 || leaf)``, in order."""
        sha256 = _sha256
        edge = self._edge
        self._size += len(nodes)
        height = 0
        while nodes:
            if height == len(edge):
                edge.append(None)
            pending = edge[height]
            if pending is not None:
                nodes = [pending, *nodes]
            edge[height] = nodes.pop() if len(nodes) % 2 else None
            nodes = [sha256(b"\x01" + nodes[i] + nodes[i + 1]).digest() for i in range(0, len(nodes), 2)]
            height += 1

    def root(self) -> bytes:
        """MTH of the leaves added so far."""
        root: bytes | None = None
        for node in self._edge:
            if node is not None:
                root = node if root is None else node_hash(node, root)
        return EMPTY_ROOT if root is None else root


def _split(n: int) -> int:
    """The largest power of two strictly below n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _all_hashes(proof: Sequence[bytes]) -> bool:
    return all(isinstance(p, bytes) and len(p) == _HASH_SIZE for p in proof)

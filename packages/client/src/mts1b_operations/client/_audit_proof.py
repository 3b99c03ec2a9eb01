"""Check an audit inclusion proof offline: only the proof and the audit service's verifier key.

Written independently of the service's code, so a proof is checked by code the server does not
run. The formats (see the audit service's ``domain`` package, and RFC 6962 / RFC 9162, C2SP
signed-note and tlog-checkpoint):

- the verifier key is ``<name>+<8 hex key id>+<base64(0x01 || 32-byte Ed25519 public key)>``,
  the key id being ``SHA-256(name || 0x0A || 0x01 || public key)[:4]``;
- the checkpoint is a signed note: text lines ``origin``, ``tree size``, ``base64 Merkle root``,
  ``chain-head <hex>``, then a blank line and ``— <name> <base64(key id || signature)>`` lines;
- a leaf is the entry's 32-byte hash, hashed as ``SHA-256(0x00 || leaf)``; inner nodes as
  ``SHA-256(0x01 || left || right)``; the entry's hash is ``SHA-256(canonical bytes)``.

Example::

    proof = await audit.proof(47832)
    checked = check_audit_proof(proof, verifier_key="mts1b-audit+1a2b3c4d+AZ...")
    print(checked.tree_size, checked.origin)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ._audit import AuditProof
from ._errors import MtsError

__all__ = ["CheckedProof", "ProofCheckError", "check_audit_proof"]

_ED25519: Final = 0x01
_SIGNATURE_LINE: Final = "\u2014 "  # em dash, space
_HEX64: Final = re.compile(r"[0-9a-f]{64}\Z")
_HEX8: Final = re.compile(r"[0-9a-f]{8}\Z")
_TREE_SIZE: Final = re.compile(r"(0|[1-9][0-9]{0,18})\Z")


class ProofCheckError(MtsError, ValueError):
    """The proof does not prove what it claims; ``check`` names the failed check."""

    def __init__(self, check: str, problem: str) -> None:
        self.check = check
        self.problem = problem
        super().__init__(f"{check}: {problem}")


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckedProof:
    """What a proof established: entry ``sequence`` is in the signed tree of ``tree_size`` entries."""

    sequence: int
    entry_hash: str
    origin: str
    tree_size: int
    root_hash: str
    """The signed Merkle root, hex."""
    head_hash: str
    """The signed chain head (hash of entry ``tree_size - 1``)."""
    key_name: str


def _b64(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ProofCheckError(what, "not base64") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise ProofCheckError(what, "not canonical base64")
    return raw


def _key_id(name: str, raw_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([_ED25519]) + raw_key).digest()[:4]


def _verifier(verifier_key: str) -> tuple[str, bytes, Ed25519PublicKey]:
    name, _, rest = verifier_key.partition("+")
    hex_id, _, encoded = rest.partition("+")
    if not name or not _HEX8.match(hex_id) or not encoded:
        raise ProofCheckError("verifier_key", "expected <name>+<8 hex digits>+<base64 key>")
    blob = _b64(encoded, "verifier_key")
    if len(blob) != 33 or blob[0] != _ED25519:
        raise ProofCheckError("verifier_key", "not an Ed25519 (type 0x01) key of 32 bytes")
    if _key_id(name, blob[1:]).hex() != hex_id:
        raise ProofCheckError("verifier_key", "the key id does not match the name and key")
    try:
        return name, blob[1:], Ed25519PublicKey.from_public_bytes(blob[1:])
    except ValueError:
        raise ProofCheckError("verifier_key", "not a valid Ed25519 public key") from None


def _open_note(note: str, verifier_key: str) -> tuple[str, str]:
    """The note's text, once a signature of the verifier key verifies over it; and the key name."""
    name, raw_key, public_key = _verifier(verifier_key)
    split = note.rfind("\n\n")
    if not note.endswith("\n") or split < 0:
        raise ProofCheckError("checkpoint", "not a signed note (text, blank line, signature lines)")
    text, signatures = note[: split + 1], note[split + 2 :].split("\n")[:-1]
    wanted = _key_id(name, raw_key)
    for line in signatures:
        signer, _, encoded = line.removeprefix(_SIGNATURE_LINE).partition(" ")
        if not line.startswith(_SIGNATURE_LINE) or signer != name:
            continue
        blob = _b64(encoded, "checkpoint signature")
        if blob[:4] != wanted:
            continue
        try:
            public_key.verify(blob[4:], text.encode("utf-8"))
        except InvalidSignature:
            raise ProofCheckError("checkpoint", f"the signature of key {name!r} does not verify") from None
        return text, name
    raise ProofCheckError("checkpoint", f"no signature of key {name!r} with this public key")


def _leaf(entry_hash: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry_hash).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _root_from_path(entry_hash: bytes, index: int, size: int, path: list[bytes]) -> bytes | None:
    """RFC 9162 2.1.3.2: the root the audit path leads to, or None when it cannot fit the tree."""
    fn, sn, r = index, size - 1, _leaf(entry_hash)
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = _node(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def check_audit_proof(proof: AuditProof, verifier_key: str | None = None) -> CheckedProof:
    """Check every claim of ``proof``; raise :class:`ProofCheckError` naming the first that fails.

    ``verifier_key`` is the key you trust (pin it: MTS_AUDIT_VERIFIER_KEY in the CLI); without
    it the key the service sent along with the proof is used, which proves the entry is in the
    tree that key signed, but not that the key is the audit service's.
    """
    key = verifier_key or proof.verifier_key
    text, key_name = _open_note(proof.checkpoint, key)
    lines = text.split("\n")
    if len(lines) != 5 or lines[4] != "" or not lines[0]:
        raise ProofCheckError("checkpoint", "expected origin, tree size, root hash and chain-head lines")
    origin, size_line, root_line, head_line = lines[:4]
    if not _TREE_SIZE.match(size_line):
        raise ProofCheckError("checkpoint", f"tree size {size_line!r} is not a decimal number")
    tree_size = int(size_line)
    root = _b64(root_line, "checkpoint root")
    head = head_line.removeprefix("chain-head ")
    if len(root) != 32 or head == head_line or not _HEX64.match(head):
        raise ProofCheckError("checkpoint", "malformed root hash or chain-head line")
    if proof.tree_size != tree_size:
        raise ProofCheckError(
            "tree_size", f"the proof says {proof.tree_size}, the checkpoint signs {tree_size}"
        )
    if not 0 <= proof.sequence < tree_size:
        raise ProofCheckError(
            "sequence", f"{proof.sequence} is not among the checkpoint's {tree_size} entries"
        )
    if not _HEX64.match(proof.entry_hash) or not all(_HEX64.match(p) for p in proof.path):
        raise ProofCheckError("path", "entry_hash and every path element must be 64 lowercase hex digits")
    if proof.canonical is not None:
        canonical = proof.canonical.encode("utf-8")
        if hashlib.sha256(canonical).hexdigest() != proof.entry_hash:
            raise ProofCheckError("canonical", "the entry's bytes do not hash to entry_hash")
        try:
            seq = json.loads(canonical).get("seq")
        except (ValueError, AttributeError):
            raise ProofCheckError("canonical", "not an audit entry") from None
        if seq != proof.sequence:
            raise ProofCheckError("canonical", f"the entry is sequence {seq}, not {proof.sequence}")
    path = [bytes.fromhex(p) for p in proof.path]
    if _root_from_path(bytes.fromhex(proof.entry_hash), proof.sequence, tree_size, path) != root:
        raise ProofCheckError("path", "the audit path does not lead from the entry to the signed root")
    if proof.sequence == tree_size - 1 and proof.entry_hash != head:
        raise ProofCheckError("entry_hash", "the checkpoint's last entry is not its signed chain head")
    return CheckedProof(
        sequence=proof.sequence,
        entry_hash=proof.entry_hash,
        origin=origin,
        tree_size=tree_size,
        root_hash=root.hex(),
        head_hash=head,
        key_name=key_name,
    )

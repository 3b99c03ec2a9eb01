"""C2SP signed notes (https://c2sp.org/signed-note) carrying tlog checkpoints (c2sp.org/tlog-checkpoint).

A checkpoint of the audit chain is this note text, signed with Ed25519 (signature type 0x01)::

    <origin>
    <tree size: the number of entries covered, decimal>
    <base64 RFC 6962 Merkle root over the entries' hashes>
    chain-head <hex hash of entry tree_size - 1; 64 zeros for an empty tree>

followed by a blank line and ``— <key name> <base64(key ID (4 bytes) || signature)>``. The key
ID is ``SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4]``; a verifier key string is
``<name>+<hex key ID>+<base64(0x01 || public key)>``. Formats match Go's sumdb/note.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ._errors import NoteFormatError, NoteSignatureError
from ._limits import MAX_NOTE_SIGNATURES

__all__ = [
    "CHAIN_HEAD_PREFIX",
    "ED25519_SIGNATURE_TYPE",
    "Checkpoint",
    "checkpoint_text",
    "key_id",
    "note_key_ids",
    "open_note",
    "parse_and_verify_checkpoint",
    "parse_verifier_key",
    "public_key_from",
    "sign_checkpoint",
    "sign_note",
    "verifier_key_string",
]

ED25519_SIGNATURE_TYPE = 0x01
CHAIN_HEAD_PREFIX = "chain-head "

_SIGNATURE_PREFIX = "\u2014 "  # em dash, space
_FORBIDDEN_CONTROL = re.compile("[\x00-\x09\x0b-\x1f]")
_TREE_SIZE = re.compile(r"(0|[1-9][0-9]{0,18})\Z")
_HEX_HASH = re.compile(r"[0-9a-f]{64}\Z")
_HEX_KEY_ID = re.compile(r"[0-9a-f]{8}\Z")


class Checkpoint(msgspec.Struct, frozen=True, kw_only=True):
    """A verified checkpoint: the chain's first ``tree_size`` entries, their root and head."""

    origin: str
    tree_size: int
    root_hash: bytes
    """The 32-byte RFC 6962 root over the hashes of entries 0 .. tree_size - 1."""
    head_hash: str
    """The hex hash of entry ``tree_size - 1`` (64 zeros when ``tree_size`` is 0)."""
    note: str
    """The signed note it was read from, exactly."""


def public_key_from(key: Ed25519PublicKey | Ed25519PrivateKey | bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from a key object or 32 raw bytes."""
    if isinstance(key, Ed25519PrivateKey):
        return key.public_key()
    if isinstance(key, Ed25519PublicKey):
        return key
    if isinstance(key, bytes) and len(key) == 32:
        return Ed25519PublicKey.from_public_bytes(key)
    raise NoteFormatError("public_key: must be an Ed25519 public key or its 32 raw bytes")


def key_id(key_name: str, public_key: Ed25519PublicKey | bytes) -> bytes:
    """The 4-byte key ID: ``SHA-256(name || 0x0A || 0x01 || public key)[:4]``."""
    _check_key_name(key_name)
    raw = _raw(public_key_from(public_key))
    return hashlib.sha256(key_name.encode() + b"\n" + bytes([ED25519_SIGNATURE_TYPE]) + raw).digest()[:4]


def verifier_key_string(public_key: Ed25519PublicKey | bytes, key_name: str) -> str:
    """``<name>+<hex key ID>+<base64(0x01 || public key)>``, the form verifiers are configured with."""
    raw = _raw(public_key_from(public_key))
    encoded = base64.b64encode(bytes([ED25519_SIGNATURE_TYPE]) + raw).decode()
    return f"{key_name}+{key_id(key_name, raw).hex()}+{encoded}"


def parse_verifier_key(vkey: str) -> tuple[str, Ed25519PublicKey]:
    """The key name and public key of a verifier key string; the key ID must match."""
    name, plus, rest = vkey.partition("+")
    hex_id, plus2, encoded = rest.partition("+")
    if not (plus and plus2 and _HEX_KEY_ID.match(hex_id)):
        raise NoteFormatError(f"verifier key {vkey!r}: expected <name>+<8 hex digits>+<base64 key>")
    blob = _strict_b64decode(encoded)
    if blob is None:
        raise NoteFormatError(f"verifier key {vkey!r}: the key is not canonical base64")
    if len(blob) != 33 or blob[0] != ED25519_SIGNATURE_TYPE:
        raise NoteFormatError(f"verifier key {vkey!r}: not an Ed25519 (type 0x01) key of 32 bytes")
    try:
        public_key = Ed25519PublicKey.from_public_bytes(blob[1:])
    except ValueError:
        raise NoteFormatError(f"verifier key {vkey!r}: not a valid Ed25519 public key") from None
    if key_id(name, public_key).hex() != hex_id:
        raise NoteFormatError(f"verifier key {vkey!r}: the key ID does not match the name and key")
    return name, public_key


def sign_note(text: str, private_key: Ed25519PrivateKey, key_name: str) -> str:
    """Sign ``text`` (UTF-8, ending in a newline, no control characters but newline) as a note."""
    _check_text(text)
    _check_key_name(key_name)
    if not isinstance(private_key, Ed25519PrivateKey):
        raise NoteFormatError("private_key: must be an Ed25519 private key")
    signature = private_key.sign(text.encode())
    blob = key_id(key_name, private_key.public_key()) + signature
    return f"{text}\n{_SIGNATURE_PREFIX}{key_name} {base64.b64encode(blob).decode()}\n"


def open_note(note: str | bytes, public_key: Ed25519PublicKey | bytes, key_name: str) -> str:
    """Verify a signed note against one trusted key; return its text.

    Signatures of other keys are ignored, as C2SP requires; a failing signature of the trusted
    key, or no signature of it at all, raises :class:`NoteSignatureError`.
    """
    _check_key_name(key_name)
    trusted = public_key_from(public_key)
    text, signatures = _split_note(note)
    wanted_id = key_id(key_name, trusted)
    verified = False
    for name, blob in signatures:
        if name != key_name or blob[:4] != wanted_id:
            continue
        try:
            trusted.verify(blob[4:], text.encode())
        except InvalidSignature:
            raise NoteSignatureError(f"the signature of key {key_name!r} does not verify") from None
        verified = True
    if not verified:
        raise NoteSignatureError(f"the note carries no signature of key {key_name!r} with this public key")
    return text


def note_key_ids(note: str | bytes, key_name: str) -> list[str]:
    """The hex key IDs of the note's signatures by ``key_name``, in order; nothing is verified.

    Tells which public key to verify a note with (see :func:`open_note`); a malformed note
    raises :class:`NoteFormatError`.
    """
    _check_key_name(key_name)
    _, signatures = _split_note(note)
    found: list[str] = []
    for name, blob in signatures:
        if name == key_name and blob[:4].hex() not in found:
            found.append(blob[:4].hex())
    return found


def checkpoint_text(origin: str, tree_size: int, root: bytes, head_hash: str) -> str:
    """The note text of a checkpoint (see the module docstring)."""
    if not origin or _FORBIDDEN_CONTROL.search(origin) or "\n" in origin:
        raise NoteFormatError("origin: must be non-empty, one line, without control characters")
    if isinstance(tree_size, bool) or not isinstance(tree_size, int) or not 0 <= tree_size < 2**63:
        raise NoteFormatError(f"tree_size: must be an integer in [0, 2**63), got {tree_size!r}")
    if not isinstance(root, bytes) or len(root) != 32:
        raise NoteFormatError("root: must be 32 bytes (a SHA-256)")
    if not isinstance(head_hash, str) or not _HEX_HASH.match(head_hash):
        raise NoteFormatError("head_hash: must be 64 lowercase hex digits")
    return f"{origin}\n{tree_size}\n{base64.b64encode(root).decode()}\n{CHAIN_HEAD_PREFIX}{head_hash}\n"


def sign_checkpoint(
    origin: str, tree_size: int, root: bytes, head_hash: str, private_key: Ed25519PrivateKey, key_name: str
) -> str:
    """The signed checkpoint note for the first ``tree_size`` entries."""
    return sign_note(checkpoint_text(origin, tree_size, root, head_hash), private_key, key_name)


def parse_and_verify_checkpoint(
    note: str | bytes, public_key: Ed25519PublicKey | bytes, key_name: str
) -> Checkpoint:
    """Verify the note's signature by ``key_name`` / ``public_key``, then parse the checkpoint."""
    text = open_note(note, public_key, key_name)
    lines = text.split("\n")
    if len(lines) != 5 or lines[4] != "":
        raise NoteFormatError(
            "checkpoint: expected exactly origin, tree size, root hash and chain-head lines"
        )
    origin, size_line, root_line, head_line = lines[:4]
    if not origin:
        raise NoteFormatError("checkpoint: the origin line is empty")
    if not _TREE_SIZE.match(size_line):
        raise NoteFormatError(
            f"checkpoint: tree size {size_line!r} is not a decimal number without leading zeros"
        )
    root = _strict_b64decode(root_line)
    if root is None or len(root) != 32:
        raise NoteFormatError("checkpoint: the root hash is not the canonical base64 of 32 bytes")
    head = head_line.removeprefix(CHAIN_HEAD_PREFIX)
    if head == head_line or not _HEX_HASH.match(head):
        raise NoteFormatError("checkpoint: the fourth line must be 'chain-head <64 lowercase hex digits>'")
    return Checkpoint(
        origin=origin,
        tree_size=int(size_line),
        root_hash=root,
        head_hash=head,
        note=note if isinstance(note, str) else note.decode(),
    )


def _split_note(note: str | bytes) -> tuple[str, list[tuple[str, bytes]]]:
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError:
            raise NoteFormatError("note: not valid UTF-8") from None
    if not isinstance(note, str):
        raise NoteFormatError("note: must be text")
    if _FORBIDDEN_CONTROL.search(note) or not note.endswith("\n"):
        raise NoteFormatError("note: must end in a newline and hold no control characters but newlines")
    try:
        note.encode("utf-8")
    except UnicodeEncodeError:
        raise NoteFormatError("note: not valid Unicode (lone surrogate)") from None
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteFormatError("note: no blank line separates the text from the signatures")
    text, signature_block = note[: split + 1], note[split + 2 :]
    lines = signature_block.split("\n")[:-1]
    if not lines:
        raise NoteFormatError("note: no signature lines")
    if len(lines) > MAX_NOTE_SIGNATURES:
        raise NoteFormatError(f"note: more than {MAX_NOTE_SIGNATURES} signatures")
    signatures = []
    for line in lines:
        name, space, encoded = line.removeprefix(_SIGNATURE_PREFIX).partition(" ")
        if not line.startswith(_SIGNATURE_PREFIX) or not space or not _valid_key_name(name):
            raise NoteFormatError(f"note: malformed signature line {line!r}")
        blob = _strict_b64decode(encoded)
        if blob is None:
            raise NoteFormatError(f"note: signature of {name!r} is not canonical base64")
        if len(blob) < 5:
            raise NoteFormatError(f"note: signature of {name!r} is too short")
        signatures.append((name, blob))
    return text, signatures


def _check_text(text: str) -> None:
    if not isinstance(text, str) or not text.endswith("\n") or _FORBIDDEN_CONTROL.search(text):
        raise NoteFormatError("text: must end in a newline and hold no control characters but newlines")


def _check_key_name(key_name: str) -> None:
    if not _valid_key_name(key_name):
        raise NoteFormatError(
            f"key_name {key_name!r}: must be non-empty, without spaces, '+' or control characters"
        )


def _valid_key_name(name: object) -> bool:
    return (
        isinstance(name, str)
        and bool(name)
        and "+" not in name
        and not any(c.isspace() for c in name)
        and not _FORBIDDEN_CONTROL.search(name)
    )


def _strict_b64decode(encoded: str) -> bytes | None:
    """Standard base64 with padding, refusing the variants that decode to the same bytes."""
    try:
        decoded = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None
    return decoded if base64.b64encode(decoded).decode("ascii") == encoded else None


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)

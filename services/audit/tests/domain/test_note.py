"""C2SP signed notes and checkpoints: Go's sumdb/note vector, round trips, and every rejection."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mts1b_operations.audit.domain import (
    GENESIS_PREV_HASH,
    NoteFormatError,
    NoteSignatureError,
    checkpoint_text,
    key_id,
    note_key_ids,
    open_note,
    parse_and_verify_checkpoint,
    parse_verifier_key,
    sign_checkpoint,
    sign_note,
    verifier_key_string,
)

# golang.org/x/mod/sumdb/note's documented example (ExampleSign / ExampleOpen).
GO_SIGNER_KEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
)
GO_SIGNATURE = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
GO_NOTE = f"{GO_TEXT}\n\u2014 PeterNeumann {GO_SIGNATURE}\n"

ORIGIN = "mts1b.test/audit"
ROOT = hashlib.sha256(b"root").digest()
HEAD = hashlib.sha256(b"head").hexdigest()


def go_key() -> Ed25519PrivateKey:
    blob = base64.b64decode(GO_SIGNER_KEY.split("+", 4)[4])
    assert blob[0] == 0x01
    return Ed25519PrivateKey.from_private_bytes(blob[1:])


def test_go_sumdb_note_vector_signs_and_opens_byte_for_byte() -> None:
    key = go_key()
    assert verifier_key_string(key.public_key(), "PeterNeumann") == GO_VERIFIER_KEY
    assert key_id("PeterNeumann", key.public_key()).hex() == "c74f20a3"
    assert sign_note(GO_TEXT, key, "PeterNeumann") == GO_NOTE
    assert open_note(GO_NOTE, key.public_key(), "PeterNeumann") == GO_TEXT
    name, public_key = parse_verifier_key(GO_VERIFIER_KEY)
    assert name == "PeterNeumann"
    assert public_key.public_bytes(Encoding.Raw, PublicFormat.Raw) == key.public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw
    )


def test_key_id_is_the_documented_hash() -> None:
    key = Ed25519PrivateKey.generate().public_key()
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert key_id("example.com/log", key) == hashlib.sha256(b"example.com/log\n\x01" + raw).digest()[:4]
    assert key_id("example.com/log", raw) == key_id("example.com/log", key)


def test_checkpoint_round_trip(signing_key: Ed25519PrivateKey) -> None:
    note = sign_checkpoint(ORIGIN, 1234, ROOT, HEAD, signing_key, ORIGIN)
    text, _, signature_line = note.rpartition("\n\n")
    assert text + "\n" == f"{ORIGIN}\n1234\n{base64.b64encode(ROOT).decode()}\nchain-head {HEAD}\n"
    assert signature_line.startswith(f"\u2014 {ORIGIN} ")
    checkpoint = parse_and_verify_checkpoint(note, signing_key.public_key(), ORIGIN)
    assert (
        checkpoint.origin,
        checkpoint.tree_size,
        checkpoint.root_hash,
        checkpoint.head_hash,
        checkpoint.note,
    ) == (
        ORIGIN,
        1234,
        ROOT,
        HEAD,
        note,
    )
    assert parse_and_verify_checkpoint(note.encode(), signing_key.public_key(), ORIGIN) == checkpoint


def test_an_empty_tree_checkpoint_round_trips(signing_key: Ed25519PrivateKey) -> None:
    note = sign_checkpoint(ORIGIN, 0, hashlib.sha256(b"").digest(), GENESIS_PREV_HASH, signing_key, ORIGIN)
    assert parse_and_verify_checkpoint(note, signing_key.public_key(), ORIGIN).tree_size == 0


def test_any_flipped_byte_is_rejected(signing_key: Ed25519PrivateKey) -> None:
    note = sign_checkpoint(ORIGIN, 77, ROOT, HEAD, signing_key, ORIGIN).encode()
    public_key = signing_key.public_key()
    for index in range(len(note)):
        tampered = note[:index] + bytes([note[index] ^ 0x01]) + note[index + 1 :]
        with pytest.raises((NoteFormatError, NoteSignatureError)):
            parse_and_verify_checkpoint(tampered, public_key, ORIGIN)


def test_a_changed_body_with_the_old_signature_is_a_bad_signature(signing_key: Ed25519PrivateKey) -> None:
    note = sign_checkpoint(ORIGIN, 77, ROOT, HEAD, signing_key, ORIGIN)
    with pytest.raises(NoteSignatureError, match="does not verify"):
        parse_and_verify_checkpoint(note.replace("\n77\n", "\n78\n"), signing_key.public_key(), ORIGIN)


def test_the_wrong_key_is_rejected(signing_key: Ed25519PrivateKey) -> None:
    note = sign_checkpoint(ORIGIN, 5, ROOT, HEAD, signing_key, ORIGIN)
    with pytest.raises(NoteSignatureError, match="no signature"):
        parse_and_verify_checkpoint(note, Ed25519PrivateKey.generate().public_key(), ORIGIN)
    with pytest.raises(NoteSignatureError, match="no signature"):
        parse_and_verify_checkpoint(note, signing_key.public_key(), "someone.else/audit")


def test_a_signature_claiming_the_right_key_id_but_made_by_another_key_is_rejected(
    signing_key: Ed25519PrivateKey,
) -> None:
    text = checkpoint_text(ORIGIN, 5, ROOT, HEAD)
    forged = Ed25519PrivateKey.generate().sign(text.encode())
    blob = key_id(ORIGIN, signing_key.public_key()) + forged
    note = f"{text}\n\u2014 {ORIGIN} {base64.b64encode(blob).decode()}\n"
    with pytest.raises(NoteSignatureError, match="does not verify"):
        parse_and_verify_checkpoint(note, signing_key.public_key(), ORIGIN)


def test_signatures_of_other_keys_are_ignored(signing_key: Ed25519PrivateKey) -> None:
    note = sign_checkpoint(ORIGIN, 5, ROOT, HEAD, signing_key, ORIGIN)
    witness = sign_note(
        checkpoint_text(ORIGIN, 5, ROOT, HEAD), Ed25519PrivateKey.generate(), "witness.example"
    )
    cosigned = note + witness.rpartition("\n\n")[2]
    assert parse_and_verify_checkpoint(cosigned, signing_key.public_key(), ORIGIN).tree_size == 5


def test_note_key_ids_names_the_keys_of_the_key_name_without_verifying(
    signing_key: Ed25519PrivateKey,
) -> None:
    other = Ed25519PrivateKey.generate()
    note = sign_checkpoint(ORIGIN, 5, ROOT, HEAD, signing_key, ORIGIN)
    by_other = sign_checkpoint(ORIGIN, 5, ROOT, HEAD, other, ORIGIN).rpartition("\n\n")[2]
    witness = sign_note(checkpoint_text(ORIGIN, 5, ROOT, HEAD), other, "witness.example")
    cosigned = note + by_other + witness.rpartition("\n\n")[2]
    assert note_key_ids(cosigned, ORIGIN) == [
        key_id(ORIGIN, signing_key.public_key()).hex(),
        key_id(ORIGIN, other.public_key()).hex(),
    ]
    assert note_key_ids(note, "witness.example") == []
    tampered = note.replace("\n5\n", "\n6\n")  # no signature is checked here
    assert note_key_ids(tampered, ORIGIN) == [key_id(ORIGIN, signing_key.public_key()).hex()]
    with pytest.raises(NoteFormatError):
        note_key_ids("text\n\nnot a signature line\n", ORIGIN)


@pytest.mark.parametrize(
    "note",
    [
        "",
        "no newline at the end",
        "text\n",
        "text\n\n",
        "text\n\nnot a signature line\n",
        "text\n\n\u2014 name not-base64!\n",
        "text\n\n\u2014 name AAAA\n",
        "text\x01\n\n\u2014 name AAAAAAAAAAAAAAAAAAAA\n",
        "text\n\n\u2014 na+me AAAAAAAAAAAAAAAAAAAA\n",
    ],
)
def test_malformed_notes_are_rejected(signing_key: Ed25519PrivateKey, note: str) -> None:
    with pytest.raises(NoteFormatError):
        open_note(note, signing_key.public_key(), "name")


def test_too_many_signatures_are_rejected(signing_key: Ed25519PrivateKey) -> None:
    note = sign_note("text\n", signing_key, "name")
    line = note.rpartition("\n\n")[2]
    with pytest.raises(NoteFormatError, match="more than 100"):
        open_note(note + line * 100, signing_key.public_key(), "name")


@pytest.mark.parametrize(
    "text",
    [
        f"{ORIGIN}\n5\n{base64.b64encode(ROOT).decode()}\n",
        f"{ORIGIN}\n05\n{base64.b64encode(ROOT).decode()}\nchain-head {HEAD}\n",
        f"{ORIGIN}\n-5\n{base64.b64encode(ROOT).decode()}\nchain-head {HEAD}\n",
        f"{ORIGIN}\n5\n{base64.b64encode(ROOT[:31]).decode()}\nchain-head {HEAD}\n",
        f"{ORIGIN}\n5\n{base64.b64encode(ROOT).decode()}\nchain-head {HEAD.upper()}\n",
        f"{ORIGIN}\n5\n{base64.b64encode(ROOT).decode()}\nhead {HEAD}\n",
        f"{ORIGIN}\n5\n{base64.b64encode(ROOT).decode()}\nchain-head {HEAD}\nextra\n",
    ],
)
def test_malformed_checkpoint_bodies_are_rejected_even_when_signed(
    signing_key: Ed25519PrivateKey, text: str
) -> None:
    note = sign_note(text, signing_key, ORIGIN)
    with pytest.raises(NoteFormatError, match="checkpoint"):
        parse_and_verify_checkpoint(note, signing_key.public_key(), ORIGIN)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("", 1, ROOT, HEAD), "origin"),
        (("a\nb", 1, ROOT, HEAD), "origin"),
        ((ORIGIN, -1, ROOT, HEAD), "tree_size"),
        ((ORIGIN, 1, ROOT[:5], HEAD), "root"),
        ((ORIGIN, 1, ROOT, "xyz"), "head_hash"),
    ],
)
def test_checkpoint_arguments_are_checked(args: tuple[str, int, bytes, str], field: str) -> None:
    with pytest.raises(NoteFormatError, match=field):
        checkpoint_text(*args)


@pytest.mark.parametrize("name", ["", "has space", "has+plus", "tab\tname"])
def test_bad_key_names_are_refused(signing_key: Ed25519PrivateKey, name: str) -> None:
    with pytest.raises(NoteFormatError, match="key_name"):
        sign_note("text\n", signing_key, name)


def test_verifier_key_round_trip_and_mangling(signing_key: Ed25519PrivateKey) -> None:
    vkey = verifier_key_string(signing_key.public_key(), ORIGIN)
    name, public_key = parse_verifier_key(vkey)
    assert name == ORIGIN
    note = sign_checkpoint(ORIGIN, 3, ROOT, HEAD, signing_key, ORIGIN)
    assert parse_and_verify_checkpoint(note, public_key, name).tree_size == 3
    for bad in [
        vkey.replace(ORIGIN, "other.example/audit"),
        vkey[:-2],
        "no-plus-signs",
        f"{ORIGIN}+00000000+{vkey.rsplit('+', 1)[1]}",
        f"{ORIGIN}+{key_id(ORIGIN, public_key).hex()}+" + base64.b64encode(b"\x02" + b"k" * 32).decode(),
    ]:
        with pytest.raises(NoteFormatError):
            parse_verifier_key(bad)

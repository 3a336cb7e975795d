"""Evidence packs read offline: the format's names, and :func:`verify`.

Standard library only (the signature check takes ``cryptography`` when a public key is
given), so that ``steward evidence verify`` runs where only the CLI is installed. The server
builds packs in :mod:`steward.evidence`.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from steward.auditchain import check

FORMAT = "steward-evidence/1"
MANIFEST = "manifest.json"
# JSON: algorithm, key (sha256 of the public key's DER), the signature of signed_message()
SIGNATURE = "manifest.sig"
SIGNATURE_FIELDS = frozenset({"algorithm", "key", "signature"})
AUDIT_EVENTS = "audit/events.jsonl"
UNLISTED = frozenset({MANIFEST, SIGNATURE})  # the only members the manifest does not list


@dataclass
class Verdict:
    """What verification found: ``problem`` is the first failure (``None`` if all held)."""

    problem: str | None = None
    files: int = 0
    events: int = 0
    signed: bool = False
    signature_checked: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None


class _Failed(Exception):
    pass


def verify(pack: bytes | IO[bytes], public_key_pem: bytes | None = None) -> Verdict:
    """Check every member's sha256 against the manifest, that no member is unlisted, the
    audit slice's hash chain, that the manifest's chain head is the slice's last event and
    that no event is later than the pack's ``at``; with ``public_key_pem``, the manifest's
    Ed25519 signature too (a signed pack verified without a key says so in ``notes``)."""
    verdict = Verdict()
    source = io.BytesIO(pack) if isinstance(pack, bytes) else pack
    try:
        with zipfile.ZipFile(source) as archive:
            _verify(archive, public_key_pem, verdict)
    except _Failed as failure:
        verdict.problem = str(failure)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as exc:
        verdict.problem = f"not a readable zip: {exc}"
    return verdict


def _read(archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        return archive.read(name)
    except KeyError:
        raise _Failed(f"{name} is missing") from None
    except Exception as exc:  # BadZipFile (CRC), zlib.error: the stored bytes were changed
        raise _Failed(f"{name} cannot be read: {type(exc).__name__}") from None


def _json(raw: bytes, name: str) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise _Failed(f"{name} is not JSON") from None


def _verify(archive: zipfile.ZipFile, public_key_pem: bytes | None, verdict: Verdict) -> None:
    raw = _read(archive, MANIFEST)
    manifest = _json(raw, MANIFEST)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _Failed(f"{MANIFEST} is not a {FORMAT} manifest")
    _signature(archive, raw, public_key_pem, verdict)
    listed: dict[str, dict[str, Any]] = {}
    for entry in manifest.get("files") or []:
        listed[str(entry.get("path"))] = entry
    for name in archive.namelist():
        if name not in listed and name not in UNLISTED:
            raise _Failed(f"{name} is in the pack but not in the manifest")
    for path, entry in listed.items():
        data = _read(archive, path)
        if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
            raise _Failed(f"{path}: sha256 differs from the manifest")
        if len(data) != entry.get("bytes"):
            raise _Failed(f"{path}: size differs from the manifest")
    verdict.files = len(listed)
    _audit(archive, manifest, verdict)


def _audit(archive: zipfile.ZipFile, manifest: dict[str, Any], verdict: Verdict) -> None:
    audit = manifest.get("audit") or {}
    stream = str(audit.get("stream", ""))
    lines = _read(archive, AUDIT_EVENTS).decode("utf-8", "replace").splitlines()
    events = [_json(line.encode(), f"{AUDIT_EVENTS} line {i + 1}") for i, line in enumerate(lines)]
    count, problem = check(stream, events)
    if problem:
        raise _Failed(f"audit chain: {problem}")
    head = audit.get("head")
    last = {"seq": events[-1]["seq"], "hash": events[-1]["hash"]} if events else None
    if head != last:
        raise _Failed("the manifest's audit chain head is not the audit slice's last event")
    if audit.get("events") != count:
        raise _Failed("the manifest's audit event count differs from the audit slice")
    at = str(manifest.get("at", ""))
    cut = _instant(at, f"{MANIFEST}'s at")
    late = next(
        (e for e in events if _instant(e.get("at"), f"audit event {e.get('seq')}") > cut), None
    )
    if late is not None:
        raise _Failed(f"audit event {late.get('seq')} is later than the pack's time {at}")
    verdict.events = count


def _instant(value: Any, what: str) -> datetime:
    """An ISO 8601 instant with its zone, compared as a time: an event's ``...Z`` and the
    manifest's ``...+00:00`` are the same instant (as strings, ``Z`` sorts later)."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise _Failed(f"{what} is not an ISO 8601 instant: {value!r}") from None
    if moment.tzinfo is None:
        raise _Failed(f"{what} has no time zone: {value!r}")
    return moment


def key_id(public_key_der: bytes) -> str:
    return "sha256:" + hashlib.sha256(public_key_der).hexdigest()


def signed_message(manifest: bytes) -> bytes:
    """What a signature signs: the manifest's sha256, named (short enough for KMS ``Sign``,
    which takes at most 4,096 bytes of message)."""
    return f"{FORMAT} manifest sha256:{hashlib.sha256(manifest).hexdigest()}".encode()


def _signature(
    archive: zipfile.ZipFile, manifest: bytes, public_key_pem: bytes | None, verdict: Verdict
) -> None:
    if SIGNATURE not in archive.namelist():
        if public_key_pem is not None:
            raise _Failed("a public key was given but the manifest is not signed")
        return
    verdict.signed = True
    raw = _read(archive, SIGNATURE)
    sig = _json(raw, SIGNATURE)
    # every byte counts: exactly these fields, written as the builder writes them
    canonical = json.dumps(sig, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if not isinstance(sig, dict) or set(sig) != SIGNATURE_FIELDS or raw != canonical.encode():
        raise _Failed(f"{SIGNATURE} is not a signature record as Steward writes it")
    if public_key_pem is None:
        verdict.notes.append(f"the manifest is signed ({sig.get('key')}); give the public key")
        return
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError:
        raise _Failed("checking a signature needs cryptography: pip install cryptography") from None
    key = serialization.load_pem_public_key(public_key_pem)
    if not isinstance(key, Ed25519PublicKey):
        raise _Failed("the public key is not an Ed25519 key")
    if sig.get("algorithm") != "Ed25519":
        raise _Failed(f"unsupported signature algorithm {sig.get('algorithm')!r}")
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if sig.get("key") != key_id(der):
        raise _Failed("the manifest was signed with another key")
    try:
        key.verify(base64.b64decode(str(sig.get("signature", ""))), signed_message(manifest))
    except (InvalidSignature, ValueError):
        raise _Failed("the manifest's signature does not hold") from None
    verdict.signature_checked = True

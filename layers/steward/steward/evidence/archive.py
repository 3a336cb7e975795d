"""A zip whose bytes depend only on what is written, in the order it is written: every
member dated 1980-01-01 00:00, mode 0644, deflated at one fixed level, in a spooled
temporary file (memory up to ``spool_bytes``, then disk)."""

from __future__ import annotations

import hashlib
import tempfile
import zipfile
from typing import IO, Any

EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip can hold


class DeterministicZip:
    def __init__(self, spool_bytes: int = 8 * 1024 * 1024) -> None:
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=spool_bytes)  # noqa: SIM115
        self._zip = zipfile.ZipFile(self.file, "w", zipfile.ZIP_DEFLATED, compresslevel=6)
        self.members: list[dict[str, Any]] = []  # path, sha256, bytes: in writing order
        self._names: set[str] = set()

    def add(self, path: str, data: bytes) -> str:
        """Write one member; its sha256."""
        if path in self._names or "\\" in path or path.startswith("/") or ".." in path:
            raise ValueError(f"bad or repeated member {path!r}")
        self._names.add(path)
        info = zipfile.ZipInfo(path, date_time=EPOCH)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.create_system = 3  # unix: the same on every platform
        info.external_attr = 0o100644 << 16
        self._zip.writestr(info, data, compresslevel=6)
        digest = hashlib.sha256(data).hexdigest()
        self.members.append({"path": path, "sha256": digest, "bytes": len(data)})
        return digest

    def close(self) -> IO[bytes]:
        """Finish the zip: the file, rewound."""
        self._zip.close()
        self.file.seek(0)
        return self.file

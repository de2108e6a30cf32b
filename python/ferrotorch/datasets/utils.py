"""Download helpers for the datasets: fetch a URL to a file (atomically) and check its MD5."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.request

__all__ = ["calculate_md5", "check_integrity", "download_url", "extract_gzip"]

_USER_AGENT = "ferrotorch"


def calculate_md5(path: str | os.PathLike[str], chunk_size: int = 1024 * 1024) -> str:
    """The hex MD5 of a file (an integrity check against the published checksums, not security)."""
    md5 = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            md5.update(chunk)
    return md5.hexdigest()


def check_integrity(path: str | os.PathLike[str], md5: str | None = None) -> bool:
    """Whether ``path`` exists and (when ``md5`` is given) has that checksum."""
    if not os.path.isfile(path):
        return False
    return md5 is None or calculate_md5(path) == md5


def download_url(
    url: str, path: str | os.PathLike[str], md5: str | None = None, timeout: float = 60.0
) -> None:
    """Downloads ``url`` to ``path`` through a temporary file, so a failed download leaves nothing behind.

    Raises ``RuntimeError`` when the checksum does not match, and the ``urllib`` error when the network fails.
    """
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"only http(s) URLs can be downloaded, got {url!r}")
    folder = os.path.dirname(os.fspath(path)) or "."
    os.makedirs(folder, exist_ok=True)
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as response:
            shutil.copyfileobj(response, out)
        if md5 is not None and calculate_md5(tmp) != md5:
            raise RuntimeError(f"checksum mismatch for {url} (expected MD5 {md5})")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def extract_gzip(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Decompresses the gzip file ``src`` to ``dst``."""
    with gzip.open(src, "rb") as f_in, open(dst, "wb") as f_out:
        shutil.copyfileobj(f_in, f_out)

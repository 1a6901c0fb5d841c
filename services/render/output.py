"""The site folder: atomic writes that leave unchanged files (and their mtime/ETag) alone."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class RenderReport:
    """What a render did to the site folder (paths relative to it)."""

    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0

    @property
    def changed(self) -> int:
        return len(self.written) + len(self.removed)

    def __str__(self) -> str:
        return (
            f"{len(self.written)} files written, {len(self.removed)} removed, "
            f"{self.unchanged} unchanged"
        )


class SiteOutput:
    """Writes into one site folder and records what changed."""

    def __init__(self, root: Path, *, remember: bool = False) -> None:
        self.root = Path(root)
        self.report = RenderReport()
        # A rebuild remembers every path it produced, to remove what no longer belongs.
        self.produced: set[str] | None = set() if remember else None

    def put(self, relative: str, data: bytes | None) -> None:
        """Write `data` at `relative`, or remove the file when `data` is None."""
        if data is None:
            self.remove(relative)
        else:
            self.write(relative, data)

    def write(self, relative: str, data: bytes) -> None:
        if self.produced is not None:
            self.produced.add(relative)
        path = self.root / relative
        try:
            if path.read_bytes() == data:
                self.report.unchanged += 1
                return
        except FileNotFoundError:
            pass
        path.parent.mkdir(parents=True, exist_ok=True)
        # Temp file in the same folder, then rename: readers see the old or the new file,
        # never half of one, and rename is atomic only within one file system.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, 0o644)  # mkstemp makes 0600; the web server must read it
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.report.written.append(relative)

    def remove(self, relative: str) -> None:
        path = self.root / relative
        try:
            path.unlink()
        except FileNotFoundError:
            return
        self.report.removed.append(relative)
        # An item's own folder goes with its page; shared parents (months, years) stay.
        if path.name == "index.html" and relative.startswith("aktuellt/"):
            try:
                path.parent.rmdir()
            except OSError:
                pass

    def prune(self) -> None:
        """Remove every file this output did not produce (after a full rebuild)."""
        assert self.produced is not None
        for path in sorted(self.root.rglob("*"), reverse=True):
            relative = path.relative_to(self.root).as_posix()
            if path.is_file() and relative not in self.produced and not path.name.endswith(".tmp"):
                path.unlink()
                self.report.removed.append(relative)
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()

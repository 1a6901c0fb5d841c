"""The site folder: atomic writes that leave unchanged files (and their mtime/ETag) alone."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path

# A temporary file of our own: created, never opened when it exists, never through a symlink.
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_serial = itertools.count()


@dataclass
class RenderReport:
    """What a render did to the site folder: counts, and the paths (relative to it) if kept.

    One event's render keeps its paths; a rebuild counts only, so its memory does not grow
    with the size of the site (`written` and `removed` are None then)."""

    files_written: int = 0
    pages_written: int = 0  # of the files written, HTML pages
    files_removed: int = 0
    unchanged: int = 0
    written: list[str] | None = field(default_factory=list)
    removed: list[str] | None = field(default_factory=list)
    failed: set[str] = field(default_factory=set)  # ids of items left out somewhere

    @classmethod
    def counting(cls) -> RenderReport:
        return cls(written=None, removed=None)

    @property
    def changed(self) -> int:
        return self.files_written + self.files_removed

    def wrote(self, relative: str) -> None:
        self.files_written += 1
        if relative.endswith(".html"):
            self.pages_written += 1
        if self.written is not None:
            self.written.append(relative)

    def dropped(self, relative: str) -> None:
        self.files_removed += 1
        if self.removed is not None:
            self.removed.append(relative)

    def add(self, other: RenderReport) -> None:
        """Count in what another render of the same site did (a rebuild's helper process)."""
        self.files_written += other.files_written
        self.pages_written += other.pages_written
        self.files_removed += other.files_removed
        self.unchanged += other.unchanged
        if self.written is not None:
            self.written += other.written or ()
        if self.removed is not None:
            self.removed += other.removed or ()
        self.failed |= other.failed

    def __str__(self) -> str:
        done = (
            f"{self.files_written} files written, {self.files_removed} removed, "
            f"{self.unchanged} unchanged"
        )
        if self.failed:
            done += f"; could not render {len(self.failed)} items: {', '.join(sorted(self.failed))}"
        return done


def _make_folders(folder: str, created: list[str]) -> None:
    """Create a folder and its missing parents, adding each one made to the front of
    `created` (deepest first), even when a later one fails."""
    missing = []
    while folder and not os.path.isdir(folder):
        missing.append(folder)
        folder = os.path.dirname(folder)
    for made in reversed(missing):
        try:
            os.mkdir(made)
        except FileExistsError:  # another process made it meanwhile: not ours to remove
            continue
        created.insert(0, made)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass  # never made, or a read-only disk keeps it (prune skips *.tmp files)


class SiteOutput:
    """Writes into one site folder and records what changed."""

    def __init__(
        self, root: Path, *, remember: bool = False, fresh: bool = False, paths: bool = True
    ) -> None:
        self.root = Path(root)
        # `paths`: the report lists what changed (one event's render), else counts it only.
        self.report = RenderReport() if paths else RenderReport.counting()
        # A rebuild remembers every path it produced, to remove what no longer belongs.
        self.produced: set[str] | None = set() if remember else None
        # Into a folder that was empty, a rebuild writes without reading anything back.
        self.fresh = fresh

    def put(self, relative: str, data: bytes | None) -> None:
        """Write `data` at `relative`, or remove the file when `data` is None."""
        if data is None:
            self.remove(relative)
        else:
            self.write(relative, data)

    def write(self, relative: str, data: bytes, *, compare: bool = True) -> None:
        """Write `data` at `relative`, unless the file there holds it already (`compare`:
        read it back to see; a caller that knows it differs or is missing says False)."""
        if self.produced is not None:
            self.produced.add(relative)
        # Plain os calls: creating a file costs the kernel far more than rendering the page
        # (0.3 ms here), so a write makes no system call it can do without.
        path = os.path.join(self.root, relative)
        if compare and not self.fresh:
            try:
                with open(path, "rb") as handle:
                    if handle.read() == data:
                        self.report.unchanged += 1
                        return
            except FileNotFoundError:
                pass
        folder, name = os.path.split(path)
        created: list[str] = []  # the folders this write made, deepest first
        temporary = None
        try:
            # Temp file in the same folder, then rename: readers see the old or the new file,
            # never half of one, and rename is atomic only within one file system.
            while temporary is None:
                candidate = os.path.join(folder, f".{name}.{os.getpid()}-{next(_serial)}.tmp")
                try:
                    fd = os.open(candidate, _CREATE, 0o644)
                except FileNotFoundError:
                    _make_folders(folder, created)
                    continue
                except FileExistsError:  # left by a crashed process that had our pid
                    continue
                temporary = candidate
            try:
                os.fchmod(fd, 0o644)  # whatever the umask: the web server must read it
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
            os.replace(temporary, path)
        except BaseException:
            # A full or read-only disk: no half file, and no folder that holds no page (a
            # web server answers an item folder without its index.html with 403).
            if temporary is not None:
                _unlink(temporary)
            for made in created:
                try:
                    os.rmdir(made)
                except OSError:
                    break  # not empty (another write's), or the disk refuses: it stays
            raise
        self.report.wrote(relative)

    def remove(self, relative: str) -> None:
        path = self.root / relative
        try:
            path.unlink()
        except FileNotFoundError:
            return
        self.report.dropped(relative)
        # An item's own folder goes with its last page; shared parents (months, years) stay.
        if path.name in ("index.html", "410.html") and relative.startswith("aktuellt/"):
            try:
                path.parent.rmdir()
            except OSError:
                pass

    def prune(self) -> None:
        """Remove every file this output did not produce (after a full rebuild)."""
        assert self.produced is not None
        # Bottom-up and one folder at a time: memory does not grow with the size of the site.
        for folder, _subfolders, files in os.walk(self.root, topdown=False):
            relative_folder = os.path.relpath(folder, self.root)
            prefix = "" if relative_folder == "." else relative_folder.replace(os.sep, "/") + "/"
            for name in sorted(files, reverse=True):
                relative = prefix + name
                if relative not in self.produced and not name.endswith(".tmp"):
                    os.unlink(os.path.join(folder, name))
                    self.report.dropped(relative)
            if prefix and not os.listdir(folder):
                os.rmdir(folder)

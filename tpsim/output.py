"""Writing outputs. This is the only module (with the CLI) that touches the file system for
results.

A command writes its whole output folder through :class:`OutputFolder`: every file goes into a
new hidden folder beside the target (same parent, name ``.<name>.tpsim-new-XXXXXX``), and only
when every file is written is that folder swapped in (the old folder renamed aside, the new one
renamed in, the old one removed), with SIGINT and SIGTERM held back during the swap. So after
any interruption the target holds the previous complete outputs or the new complete ones, never
a mix, files a run did not write are never left from an earlier run, and no temporary file is
left behind. Every relative path a command writes is checked to stay inside the folder.

:func:`handle_signals` turns SIGINT and SIGTERM into :class:`Interrupted` (so clean-up code
runs); the CLI exits 130 or 143 on it.
"""
from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import os
import shutil
import signal
import tempfile
import threading
import unicodedata
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator, Sequence

import numpy as np

from tpsim.errors import TpsimError

#: The file that marks a folder as one tpsim wrote (so it may be replaced as a whole).
MARKER = ".tpsim-output"

_NEW_TAG = ".tpsim-new-"
_OLD_TAG = ".tpsim-old-"


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived (see :func:`handle_signals`); ``signum`` says which. A
    BaseException, like KeyboardInterrupt, so ``except Exception`` does not swallow it."""

    def __init__(self, signum: int) -> None:
        self.signum = int(signum)
        super().__init__(signal.Signals(self.signum).name)

    @property
    def exit_status(self) -> int:
        """128 + the signal number, the shell's convention: 130 for SIGINT, 143 for SIGTERM."""
        return 128 + self.signum


_HANDLED = (signal.SIGINT, signal.SIGTERM)


def _raise_interrupted(signum, frame) -> None:
    raise Interrupted(signum)


@contextlib.contextmanager
def handle_signals() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise :class:`Interrupted` in the main thread (a
    no-op outside the main thread); the previous handlers come back after it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _raise_interrupted) for s in _HANDLED}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back for the block (a swap of folders or a clean-up must not be
    cut in half); one that arrived meanwhile is delivered when the block ends."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    # Python-level handlers that only note the signal: blocking it with pthread_sigmask in
    # the main thread is not enough, since the kernel then delivers a process-wide signal to
    # another thread (numba's, Dask's) and Python still runs the handler in the main thread
    pending: list[int] = []
    previous = {s: signal.signal(s, lambda signum, frame: pending.append(signum))
                for s in _HANDLED}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if pending:
            _deliver(pending[0], previous[pending[0]])


def _deliver(signum: int, handler) -> None:
    """Act on a signal held back by :func:`signals_held` as ``handler`` would have."""
    if callable(handler):
        handler(signum, None)
    elif handler == signal.SIG_DFL:
        signal.raise_signal(signum)


def _os_error(target: Path, exc: OSError, option: str) -> TpsimError:
    """One line for an OS error on the output folder, naming the option that chooses it."""
    reason = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC:
        reason = "no space left on the device"
    elif exc.errno in (errno.EEXIST, errno.ENOTDIR):
        reason = "a file stands where a folder is needed"
    elif exc.errno == errno.EROFS:
        reason = "the file system is read-only"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        reason = "permission denied"
    return TpsimError(f"cannot write the output folder ({reason}); choose another with "
                      f"{option}", file=os.fspath(target))


def _relative(relative: str | os.PathLike) -> PurePosixPath:
    """``relative`` as a path inside an output folder; a TpsimError if it could leave it."""
    text = os.fspath(relative)
    parts = PurePosixPath(text.replace("\\", "/")).parts
    bad = (not parts or os.path.isabs(text) or text.startswith(("/", "\\"))
           or any(p in (".", "..") or not p.strip() for p in parts)
           or any(unicodedata.category(c).startswith("C") for c in text)
           or parts[0] in (MARKER,))
    if bad:
        raise TpsimError(f"refused to write {text!r}: an output file must stay inside the "
                         "output folder")
    return PurePosixPath(*parts)


class OutputFolder:
    """A command's output folder, written as a whole (see the module docstring).

    >>> with OutputFolder("outputs/run", "run") as out:   # doctest: +SKIP
    ...     out.write_text("summary.json", text)

    ``target`` must be a new or empty folder or one a tpsim command wrote (it holds
    :data:`MARKER`); anything else is refused, so ``--out`` can never wipe a folder of the
    user's own files. Nested folders that are themselves tpsim outputs (``tpsim des`` writes
    ``<name>/des/`` inside the folder of ``tpsim run``) are carried over unless the new
    outputs write the same name.
    """

    def __init__(self, target: str | os.PathLike, command: str, option: str = "--out") -> None:
        self.target = Path(target)
        self.command = command
        self.option = option  # the command-line option that chooses the folder (for messages)
        self.root: Path | None = None  # the new folder being built
        self.written: list[PurePosixPath] = []
        self.made: list[Path] = []  # parent folders this write created, deepest first

    # -- setting up ---------------------------------------------------------------------------

    def __enter__(self) -> OutputFolder:
        target = self.target
        if target.name in ("", ".", "..") or not target.name.strip():
            raise TpsimError("the output folder must be named (not '.', '..' or the root); "
                             "write e.g. --out outputs/run1", file=os.fspath(target))
        if target.exists() or target.is_symlink():
            if target.is_symlink() or not target.is_dir():
                raise TpsimError("the output folder exists and is not a folder",
                                 file=os.fspath(target))
            if not _replaceable(target):
                raise TpsimError("the output folder holds files tpsim did not write; choose a "
                                 "new or empty folder (tpsim replaces its output folders as a "
                                 "whole)", file=os.fspath(target))
            if Path.cwd().resolve().is_relative_to(target.resolve()):
                raise TpsimError("the output folder holds the current directory; choose "
                                 "another", file=os.fspath(target))
        parent = target.parent
        try:
            self._make_parents(parent)
            self.root = Path(tempfile.mkdtemp(prefix=f".{target.name}{_NEW_TAG}", dir=parent))
            os.chmod(self.root, 0o777 & ~_umask())
            self._write(PurePosixPath(MARKER),
                        json.dumps({"command": self.command}).encode() + b"\n", track=False)
        except OSError as exc:
            self._discard()
            raise _os_error(target, exc, self.option) from None
        return self

    def _make_parents(self, parent: Path) -> None:
        """Make the missing folders above the output folder, remembering them so that a
        failed write removes them again (nothing is left behind)."""
        missing = []
        for folder in (parent, *parent.parents):
            if folder.exists() or folder.is_symlink():
                break
            missing.append(folder)
        for folder in reversed(missing):
            try:
                folder.mkdir()
            except FileExistsError:  # made meanwhile by someone else: not ours to remove
                if not folder.is_dir():
                    raise
                continue
            self.made.insert(0, folder)

    def __exit__(self, kind, value, tb) -> bool:
        if kind is not None:
            self._discard()
            if isinstance(value, OSError):
                raise _os_error(self.target, value, self.option) from None
            return False
        try:
            self._swap()
        except OSError as exc:
            self._discard()
            raise _os_error(self.target, exc, self.option) from None
        self.made = []
        return False

    # -- writing ------------------------------------------------------------------------------

    def path(self, relative: str | os.PathLike) -> Path:
        """Where ``relative`` goes in the folder being built (its parent folders made); for
        writers that need a file name (matplotlib's savefig)."""
        if self.root is None:
            raise RuntimeError("OutputFolder used outside its with-block")
        rel = _relative(relative)
        path = self.root.joinpath(*rel.parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.written.append(rel)
        return path

    def folder(self, relative: str | os.PathLike | None = None) -> Path:
        """A sub-folder of the folder being built (made), for writers that take a folder."""
        if relative is None:
            return self.root
        path = self.path(relative)
        path.mkdir(exist_ok=True)
        return path

    def _write(self, rel: PurePosixPath, data: bytes, track: bool = True) -> Path:
        path = self.path(rel) if track else self.root.joinpath(*rel.parts)
        with open(path, "wb") as fh:
            fh.write(data)
        return path

    def write_bytes(self, relative: str | os.PathLike, data: bytes) -> Path:
        return self._write(_relative(relative), data)

    def write_text(self, relative: str | os.PathLike, text: str) -> Path:
        return self._write(_relative(relative), text.encode("utf-8"))

    def write_json(self, relative: str | os.PathLike, obj) -> Path:
        return self.write_text(relative, json_text(obj))

    def write_csv(self, relative: str | os.PathLike, columns: Sequence[str], rows) -> Path:
        return self.write_text(relative, csv_text(columns, rows))

    def write_files(self, files: dict) -> None:
        """Write ``{relative path: str or bytes}``."""
        for relative, content in files.items():
            if isinstance(content, str):
                self.write_text(relative, content)
            else:
                self.write_bytes(relative, content)

    def final(self, relative: str | os.PathLike = "") -> Path:
        """Where ``relative`` will be once the folder is swapped in (for messages)."""
        return self.target / relative if relative else self.target

    # -- swapping in --------------------------------------------------------------------------

    def _swap(self) -> None:
        target, new = self.target, self.root
        with signals_held():
            aside, carried = None, []
            if target.is_dir():
                aside = Path(tempfile.mkdtemp(prefix=f".{target.name}{_OLD_TAG}",
                                              dir=target.parent))
                os.rmdir(aside)
                os.rename(target, aside)
            try:
                if aside is not None:
                    for entry in aside.iterdir():  # nested outputs of other commands stay
                        if _is_output(entry) and not (new / entry.name).exists():
                            os.rename(entry, new / entry.name)
                            carried.append(entry.name)
                os.rename(new, target)
            except BaseException:
                if aside is not None:  # put the old outputs back as they were
                    for name in carried:
                        os.rename(new / name, aside / name)
                    os.rename(aside, target)
                raise
            self.root = None
            if aside is not None:
                shutil.rmtree(aside, ignore_errors=True)

    def _discard(self) -> None:
        """Remove the folder being built and the parent folders this write made."""
        with signals_held():
            if self.root is not None:
                shutil.rmtree(self.root, ignore_errors=True)
                self.root = None
            for folder in self.made:
                try:
                    folder.rmdir()
                except OSError:  # not empty (something else wrote there) or already gone
                    break
            self.made = []


def _is_output(folder: Path) -> bool:
    return folder.is_dir() and not folder.is_symlink() and (folder / MARKER).is_file()


def _replaceable(folder: Path) -> bool:
    """A folder tpsim may replace: empty, marked as a tpsim output, or holding only tpsim
    output folders (``outputs/<name>/`` made to hold ``des/``)."""
    return (folder / MARKER).is_file() or all(_is_output(e) for e in folder.iterdir())


def leftovers(folder: str | os.PathLike) -> list[Path]:
    """Temporary folders of interrupted writes beside ``folder`` (tests; clean-up tools)."""
    folder = Path(folder)
    parent = folder.parent
    if not parent.is_dir():
        return []
    return sorted(p for p in parent.iterdir()
                  if p.name.startswith(f".{folder.name}{_NEW_TAG}")
                  or p.name.startswith(f".{folder.name}{_OLD_TAG}"))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()  # what open() would give: mkstemp makes files private (0600)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename."""
    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            fh.write(data)

    return atomic_write_with(path, write, suffix=".tmp")


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_with(path: str | os.PathLike, write: Callable[[str], None],
                      suffix: str | None = None) -> Path:
    """Let ``write(tmp_path)`` produce a file (e.g. matplotlib's savefig, which reads the
    format from the temporary file's ending, ``path``'s own unless ``suffix`` is given), then
    rename it to ``path``; the temporary file is removed if anything fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}." if suffix is not None else f".{path.stem}."
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=path.suffix if suffix is None else suffix,
                               dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _plain(obj):
    """Make numpy scalars and arrays JSON-serialisable; non-finite floats become None."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        value = float(obj)
        return value if np.isfinite(value) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def json_text(obj) -> str:
    return json.dumps(_plain(obj), indent=2) + "\n"


def write_json(path: str | os.PathLike, obj) -> Path:
    return atomic_write_text(path, json_text(obj))


def csv_text(columns: Sequence[str], rows: np.ndarray | Sequence[Sequence]) -> str:
    """CSV with a header; floats written with full precision (repr), integers as integers."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return buf.getvalue()


def _cell(v):
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if f.is_integer() and abs(f) < 1e15:
            return str(int(f))
        return repr(f)
    return v


def write_csv(path: str | os.PathLike, columns: Sequence[str], rows) -> Path:
    return atomic_write_text(path, csv_text(columns, rows))


def read_timeseries_csv(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a ``timeseries.csv`` back into column name -> array (used by tests and compare)."""
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        data = np.array([[float(x) for x in row] for row in reader])
    return {name: data[:, j] for j, name in enumerate(header)}

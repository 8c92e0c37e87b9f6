"""The file side of checkpointing: a locked folder, a ledger of the files this run wrote, nothing touched outside.

For each checkpoint folder of a fit, :class:`Folder` holds an OS lock on
``<folder>/.fhooks-ledger`` (``fcntl.flock``: the kernel drops it when the
process dies, so a killed run never blocks its own resume, while a second live
run into the folder fails at once). The same file is the ledger: one JSON line
per file written or removed, with the file's identity (device, inode, size,
mtime), the run that wrote it and when that run first made the name. A file may
be replaced or removed only when the ledger says this run's lineage wrote it and
it is still that very file; every path is resolved (``realpath``) and must stay
inside its folder. A resumed run owns only the names its lineage made up to the
checkpoint it resumes from; what the dead run made after that is foreign to it.

>>> import os, pathlib, tempfile
>>> root = tempfile.mkdtemp()
>>> guard = FileGuard([root])
>>> target = os.path.join(root, "a.ckpt")
>>> guard.check_write(target, "run1")
>>> _ = pathlib.Path(target).write_text("x")
>>> guard.wrote(target, "run1")
>>> guard.owns(target, "run1"), guard.owns(target, "someone else")
(True, False)
>>> guard.close()
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
import uuid
import warnings
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from fhooks.errors import CheckpointClash, CheckpointFolderBusy

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock, the folder is not locked
    fcntl = None  # type: ignore[assignment]

LEDGER = ".fhooks-ledger"
#: The marker in the names of temporary files fhooks writes (``.<name>.fhooks-<random>.tmp``).
TEMP_MARK = ".fhooks-"
_ORPHAN = re.compile(r"^\..+\.fhooks-[A-Za-z0-9_]+\.tmp$")
#: The keys in ``trainer.extra_state`` naming the run (lineage) that wrote a checkpoint, and when.
RUN_KEY = "fhooks.files.run"
SEQ_KEY = "fhooks.files.seq"

Identity = tuple[int, int, int, int]


class Entry(NamedTuple):
    """What the ledger knows of one name: the file's identity, the run that wrote it, when the run first made it."""

    identity: Identity
    run: str
    first: int


def identity(path: str) -> Identity | None:
    """What tells one file from another at ``path`` (not following a final symlink): device, inode, size, mtime."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def inside(path: str, folder: str) -> bool:
    """Whether ``path`` lies strictly inside ``folder`` (both already resolved).

    >>> inside("/a/b/c.ckpt", "/a/b"), inside("/a/bc.ckpt", "/a/b"), inside("/a/b", "/a/b")
    (True, False, False)
    """
    return os.path.commonpath([path, folder]) == folder and path != folder


def orphan_temp_files(folder: str) -> list[str]:
    """The temporary files fhooks left in ``folder`` (and below) when a process died mid-write."""
    found = []
    for parent, _dirs, names in os.walk(folder):
        found += [os.path.join(parent, n) for n in names if _ORPHAN.match(n)]
    return sorted(found)


def existing_files(folders: Iterable[str]) -> tuple[str, ...]:
    """Every file and folder already inside ``folders``, subfolders included (fhooks' own bookkeeping left out).

    A metric name with ``/`` puts checkpoints in subfolders, so those are listed too.
    """
    found = []
    for folder in folders:
        for parent, dirs, names in os.walk(folder):
            for name in (*dirs, *names):
                if name != LEDGER and not _ORPHAN.match(name):
                    found.append(os.path.join(parent, name))
    return tuple(sorted(found))


class Folder:
    """One locked checkpoint folder and its ledger."""

    def __init__(self, path: str) -> None:
        self.path = os.path.realpath(path)
        os.makedirs(self.path, exist_ok=True)
        self.fd = os.open(os.path.join(self.path, LEDGER), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if fcntl is not None:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise CheckpointFolderBusy(
                f"checkpoint folder {self.path!r} is in use by another running fit (it holds the lock on "
                f"{os.path.join(self.path, LEDGER)!r}); wait for that run to end, or give this one another "
                "dirpath (ModelCheckpoint(dirpath=...)) or default_root_dir") from None
        for orphan in orphan_temp_files(self.path):
            with contextlib.suppress(OSError):
                os.unlink(orphan)
        self.entries = self._read()
        self._compact()

    def _read(self) -> dict[str, Entry]:
        """Replay the ledger: each name's latest record that is still the file on disk (a file is recorded before
        it is renamed into place, so a kill in between leaves the previous record the true one); a torn last line
        (a kill mid-append) is skipped."""
        records: dict[str, list[Entry]] = {}  # per name, since it was last removed
        os.lseek(self.fd, 0, os.SEEK_SET)
        chunks = []
        while chunk := os.read(self.fd, 1 << 16):
            chunks.append(chunk)
        for line in b"".join(chunks).decode("utf-8", "replace").splitlines():
            try:
                record = json.loads(line)
                name = str(record["name"])
                if record["op"] == "w":
                    ident = tuple(int(v) for v in record["id"])
                    entry = Entry(ident, str(record["run"]), int(record["first"]))  # type: ignore[arg-type]
                    records.setdefault(name, []).append(entry)
                else:
                    records.pop(name, None)
            except (ValueError, KeyError, TypeError):
                continue
        entries = {}
        for name, found in records.items():
            on_disk = identity(os.path.join(self.path, name))
            entry = next((e for e in reversed(found) if e.identity == on_disk), None)
            if entry is not None:
                entries[name] = entry
        return entries

    def _compact(self) -> None:
        """Rewrite the ledger with the entries still true (files gone or changed are dropped)."""
        text = "".join(self._line("w", name, entry) for name, entry in sorted(self.entries.items()))
        os.ftruncate(self.fd, 0)
        os.lseek(self.fd, 0, os.SEEK_SET)
        os.write(self.fd, text.encode())
        self.appended = 0

    @staticmethod
    def _line(op: str, name: str, entry: Entry | None = None) -> str:
        record: dict[str, Any] = {"op": op, "name": name}
        if entry is not None:
            record.update(id=list(entry.identity), run=entry.run, first=entry.first)
        return json.dumps(record) + "\n"

    def _append(self, line: str) -> None:
        """Add one record (before :attr:`entries` changes); past a thousand records and four per live entry the
        ledger is first rewritten with only the live ones, so a long run saving every step keeps it small (a kill
        mid-rewrite loses records, which only makes files foreign: kept, never removed)."""
        self.appended += 1
        if self.appended > max(1000, 4 * len(self.entries)):
            self._compact()
        os.lseek(self.fd, 0, os.SEEK_END)
        os.write(self.fd, line.encode())

    def name(self, path: str) -> str:
        return os.path.relpath(path, self.path)

    def owns(self, path: str, run: str) -> bool:
        """Whether ``path`` is a file ``run`` wrote here and nobody has replaced since."""
        entry = self.entries.get(self.name(path))
        return entry is not None and entry.run == run and identity(path) == entry.identity

    def wrote(self, path: str, run: str, seq: int, written: str | None = None) -> None:
        """Record ``path`` as ``run``'s; ``written``: the file about to be renamed to ``path`` (same identity after)."""
        ident = identity(path if written is None else written)
        if ident is None:
            return
        name = self.name(path)
        old = self.entries.get(name)
        entry = Entry(ident, run, old.first if old is not None and old.run == run else seq)
        self._append(self._line("w", name, entry))
        self.entries[name] = entry

    def disown_after(self, run: str, seq: int) -> None:
        """Names ``run`` first made after ``seq`` become foreign: a resumed run does not own them."""
        for name, entry in list(self.entries.items()):
            if entry.run == run and entry.first > seq:
                entry = Entry(entry.identity, "", entry.first)
                self._append(self._line("w", name, entry))
                self.entries[name] = entry

    def owned(self, run: str) -> set[str]:
        """The paths ``run`` owns here."""
        return {os.path.join(self.path, name) for name, entry in self.entries.items() if entry.run == run}

    def removed(self, path: str) -> None:
        name = self.name(path)
        if name in self.entries:
            self._append(self._line("rm", name))
            del self.entries[name]

    def close(self) -> None:
        os.close(self.fd)  # closing the last descriptor releases the flock


class FileGuard:
    """The locked folders of one fit: where checkpoints may be written, replaced, linked and removed.

    A path that names a guarded folder (its text starts with the folder) must resolve inside it;
    a path outside every guarded folder is the caller's own business (``trainer.save_checkpoint``
    to a path of the user's choice) and is written as asked.
    """

    def __init__(self, folders: Iterable[str]) -> None:
        self.folders: list[Folder] = []
        self.last_seq = 0
        try:
            for path in dict.fromkeys(os.path.realpath(f) for f in folders):
                self.folders.append(Folder(path))
        except BaseException:
            self.close()
            raise

    def folder_of(self, path: str) -> tuple[Folder | None, str]:
        """The guarded folder ``path`` is written as being in, and ``path`` resolved (with no guarded folder:
        None and ``path`` as given, nothing to resolve it against).

        Raises:
            CheckpointClash: ``path`` names a guarded folder but resolves outside it (``..``, a symlink).
        """
        if not self.folders:
            return None, path
        raw = path if os.path.isabs(path) else os.path.join(os.getcwd(), path)
        given = os.path.abspath(path)
        resolved = os.path.join(os.path.realpath(os.path.dirname(given)), os.path.basename(given))
        for folder in self.folders:
            prefix = os.path.join(folder.path, "")
            if raw.startswith(prefix) or given.startswith(prefix) or inside(resolved, folder.path):
                if not inside(resolved, folder.path) or ".." in path.replace("\\", "/").split("/"):
                    raise CheckpointClash(f"checkpoint path {path!r} resolves to {resolved!r}, outside the checkpoint "
                                          f"folder {folder.path!r}; fhooks writes, links and removes only inside it")
                return folder, resolved
        return None, resolved

    def check_write(self, path: str, run: str) -> None:
        """Refuse to write ``path`` over something this run did not write, or outside its folder.

        Raises:
            CheckpointClash: with what is there and what to do.
        """
        folder, resolved = self.folder_of(path)
        if folder is None:
            return
        if os.path.isdir(resolved) and not os.path.islink(resolved):
            raise CheckpointClash(f"cannot write checkpoint {resolved!r}: a folder of that name is there; fhooks "
                                  "never removes it. Move it away or choose another filename/dirpath")
        if os.path.lexists(resolved) and not folder.owns(resolved, run):
            raise CheckpointClash(
                f"checkpoint {resolved!r} already exists and was not written by this run; fhooks never overwrites "
                "it. Keep enable_version_counter=True (it then takes a -vN name), move the file away, or choose "
                "another dirpath")

    def next_seq(self) -> int:
        """A number later than every earlier write's, in this process and in the runs before it (the clock)."""
        self.last_seq = max(time.time_ns(), self.last_seq + 1)
        return self.last_seq

    def wrote(self, path: str, run: str, seq: int | None = None, written: str | None = None) -> None:
        """Record that ``run`` wrote ``path`` (now on disk) at ``seq``; or, with ``written``, the complete file that is
        about to be renamed to ``path`` (recorded first, so that a kill between the two leaves no unrecorded file)."""
        folder, resolved = self.folder_of(path)
        if folder is not None:
            folder.wrote(resolved, run, self.next_seq() if seq is None else seq, written)

    def resume(self, run: str | None, seq: int | None) -> None:
        """Resuming from a checkpoint ``run`` wrote at ``seq``: what ``run`` first made after it is not ours."""
        if run is None or seq is None:
            return
        for folder in self.folders:
            folder.disown_after(run, seq)

    def foreign_files(self, run: str | None) -> tuple[str, ...]:
        """Every file and folder in the guarded folders that ``run`` does not own (what a hook must step around)."""
        owned = set().union(*(folder.owned(run) for folder in self.folders)) if run else set()
        return tuple(p for p in existing_files(f.path for f in self.folders) if p not in owned)

    def owns(self, path: str, run: str) -> bool:
        """Whether ``path`` lies in a guarded folder and ``run`` wrote it (the file on disk is still that file)."""
        try:
            folder, resolved = self.folder_of(path)
        except CheckpointClash:
            return False
        return folder is not None and folder.owns(resolved, run)

    def remove(self, path: str, run: str) -> bool:
        """Delete ``path`` if this run owns it; else keep it and warn (a path already gone is no matter).

        Returns whether it was deleted.
        """
        if not os.path.lexists(path):
            return False
        if not self.owns(path, run):
            warnings.warn(f"fhooks kept {path!r}: it was asked to remove it, but it is not a file this run wrote "
                          "inside its checkpoint folder", UserWarning, stacklevel=3)
            return False
        folder, resolved = self.folder_of(path)
        assert folder is not None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(resolved)
        folder.removed(resolved)
        return True

    def close(self) -> None:
        for folder in self.folders:
            folder.close()
        self.folders = []


def may_write(guard: FileGuard, path: str, run: str, handling_exception: bool) -> bool:
    """Whether ``path`` may be written; a clash raises, but while a run's own exception is propagating it only
    warns (the crash checkpoint is not written, the original exception stays the one raised).

    Raises:
        CheckpointClash: see :meth:`FileGuard.check_write`.
    """
    try:
        guard.check_write(path, run)
    except CheckpointClash as clash:
        if not handling_exception:
            raise
        warnings.warn(f"{clash} (checkpoint not written while handling the run's exception)", UserWarning,
                      stacklevel=3)
        return False
    return True


def stamp(trainer: Any) -> int | None:
    """Mark the checkpoint about to be built with when it was taken (in ``trainer.extra_state``), during a fit."""
    guard = trainer.file_guard
    if guard is None:
        return None
    seq = trainer.extra_state[SEQ_KEY] = guard.next_seq()
    return seq


def files_to_step_around(trainer: Any, checkpoint: Any) -> tuple[str, ...]:
    """The files in the checkpoint folders that the run about to start does not own: all of them for a fresh run;
    for a resume, all but those its lineage made up to the checkpoint (what the dead run made after is foreign)."""
    guard = trainer.file_guard
    if guard is None:
        return existing_files(checkpoint_folders(trainer))
    extra = checkpoint.get("extra_state", {}) if isinstance(checkpoint, dict) else {}
    run, seq = extra.get(RUN_KEY), extra.get(SEQ_KEY)
    if not isinstance(run, str) or not isinstance(seq, int):
        return guard.foreign_files(None)
    guard.resume(run, seq)
    return guard.foreign_files(run)


def run_id(trainer: Any) -> str:
    """The id of the run lineage writing checkpoints: kept in ``trainer.extra_state`` so a resume inherits it."""
    return trainer.extra_state.setdefault(RUN_KEY, uuid.uuid4().hex)


def checkpoint_folders(trainer: Any) -> list[str]:
    """The folders of every ``model_checkpoint`` in the trainer's callbacks, resolved."""
    from fhooks.core.hook import instances
    from fhooks.hooks.model_checkpoint import ModelCheckpoint

    return sorted({os.path.realpath(hook.dirpath or str(trainer.checkpoint_dir))
                   for hook in instances(trainer.callbacks, ModelCheckpoint)})


def guarded_folders(trainer: Any) -> list[str]:
    """The folders a fit locks: every ``model_checkpoint``'s and ``on_exception_checkpoint``'s (none with
    ``fast_dev_run``, which saves nothing)."""
    from fhooks.core.hook import instances
    from fhooks.hooks.on_exception_checkpoint import OnExceptionCheckpoint

    if trainer.fast_dev_run:
        return []
    on_exception = {os.path.realpath(hook.dirpath) for hook in instances(trainer.callbacks, OnExceptionCheckpoint)}
    return sorted(set(checkpoint_folders(trainer)) | on_exception)


@contextlib.contextmanager
def guarded(trainer: Any) -> Iterator[None]:
    """Claim the loggers' version folders, then lock the trainer's checkpoint folders for the length of a fit
    (``trainer.file_guard`` meanwhile). Under DDP only rank zero claims and locks; the other ranks take its
    version numbers (they write nothing)."""
    zero = getattr(trainer, "global_rank", 0) == 0
    for logger in trainer.loggers if zero else ():
        claim = getattr(logger, "claim", None)
        if callable(claim):
            claim()
    if getattr(trainer, "world_size", 1) > 1:
        _share_versions(trainer)
    guard = FileGuard(guarded_folders(trainer) if zero else [])
    trainer.file_guard = guard
    try:
        yield
    finally:
        trainer.file_guard = None
        guard.close()


def _share_versions(trainer: Any) -> None:
    """Rank zero's loggers' claimed version numbers, given to the other ranks' loggers (one broadcast)."""
    versions = trainer.strategy.broadcast([getattr(logger, "_version", None) for logger in trainer.loggers])
    if trainer.global_rank == 0:
        return
    for logger, version in zip(trainer.loggers, versions):
        if hasattr(logger, "_version"):
            logger._version = version
            if hasattr(logger, "_claimed"):
                logger._claimed = True

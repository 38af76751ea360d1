"""The code of another commit, ready to run: its files and a venv built by its own `make install`.

`git archive` extracts the commit into a cache directory keyed by what its venv depends on (the
pyprojects, constraints, requirements and the Makefile's PACKAGES line), so two commits with
the same dependencies share one venv: only the files are swapped (editable installs point at
the same directory). No worktree is registered in the repository. A lock on the cache entry
keeps two runs from swapping its files under each other.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import suite

CACHE = Path(os.environ.get("BENCH_REF_CACHE")
             or Path.home() / ".cache" / "commerce-suite" / "bench-refs")
_DEPENDENCY_FILE = re.compile(r"(^|/)(pyproject\.toml|constraints\.txt|requirements[^/]*\.txt)$")
_PACKAGES_LINE = re.compile(r"^PACKAGES\s*:?=.*$", re.M)


@dataclass(frozen=True)
class Source:
    """Code to run: its root directory, its Python and what it is (label, commit)."""

    label: str
    commit: str
    root: Path
    python: Path

    @property
    def bin(self) -> Path:
        return self.python.parent


def git(*args: str, cwd: Path = suite.ROOT) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise suite.BenchError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def resolve(ref: str, repository: Path = suite.ROOT) -> str:
    """The full commit id `ref` names (a branch, tag, short id, `HEAD~3`...)."""
    if ref.startswith("-"):  # never an option to git
        raise suite.BenchError(f"not a ref: {ref!r}")
    try:
        return git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=repository)
    except suite.BenchError as exc:
        raise suite.BenchError(f"{ref!r} names no commit of {repository}") from exc


def dependency_key(tree_listing: str, makefile: str) -> str:
    """A short hash of what a venv depends on, from `git ls-tree -r <commit>` and its Makefile:
    the blob ids of dependency files (not their commit) and the Makefile's PACKAGES line."""
    wanted = sorted(line for line in tree_listing.splitlines()
                    if _DEPENDENCY_FILE.search(line.split("\t", 1)[-1]))
    packages = _PACKAGES_LINE.search(makefile)
    digest = hashlib.sha256("\n".join(wanted).encode())
    digest.update((packages.group(0) if packages else "").encode())
    return digest.hexdigest()[:16]


def _extract(commit: str, directory: Path) -> None:
    """The commit's files in `directory`, replacing all but the venv."""
    directory.mkdir(parents=True, exist_ok=True)
    for entry in directory.iterdir():
        if entry.name != ".venv":
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    archive = subprocess.Popen(["git", "archive", "--format=tar", commit], cwd=suite.ROOT,
                               stdout=subprocess.PIPE)
    untar = subprocess.run(["tar", "-x", "-C", str(directory)], stdin=archive.stdout,
                           capture_output=True, check=False)
    if archive.wait() != 0 or untar.returncode != 0:
        raise suite.BenchError(f"extracting {commit} failed: {untar.stderr.decode()[-400:]}")


def _install(directory: Path) -> None:
    """The commit's own `make install` (a few minutes the first time, seconds after)."""
    done = subprocess.run(["make", "-C", str(directory), "install"], capture_output=True,
                          text=True, check=False, timeout=1800)
    if done.returncode != 0:
        raise suite.BenchError(f"make install of {directory} failed: {done.stderr[-800:]}")


@contextlib.contextmanager
def checked_out(ref: str, say: Callable[[str], None] = print) -> Iterator[Source]:
    """`ref`'s code with its venv, locked for the duration of the `with` block."""
    commit = resolve(ref)
    key = dependency_key(git("ls-tree", "-r", commit), git("show", f"{commit}:Makefile"))
    entry = CACHE / key
    entry.mkdir(parents=True, exist_ok=True)
    with (entry / "lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"waiting for another run that uses {entry}")
            fcntl.flock(lock, fcntl.LOCK_EX)
        root, stamp = entry / "src", entry / "commit"
        if not stamp.exists() or stamp.read_text() != commit:
            say(f"extracting {ref} ({commit[:10]}) into {root}")
            stamp.unlink(missing_ok=True)
            _extract(commit, root)
            stamp.write_text(commit)
        say(f"make install for {ref} (venv cached under {entry})")
        _install(root)
        yield Source(ref, commit, root, root / ".venv" / "bin" / "python")


def this_checkout() -> Source:
    """The code this harness runs from, with its own venv."""
    dirty = git("status", "--porcelain", "--", "shared", "services", "gateway")
    commit = git("rev-parse", "HEAD") + (" + uncommitted changes" if dirty else "")
    return Source("this checkout", commit, suite.ROOT, Path(sys.executable))

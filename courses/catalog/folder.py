"""The course folder format: course.yaml, lessons/<slug>.md, exercises/<slug>.ipynb, and
requirements.txt when the course pins packages (one name==version a line). An otter
exercise may keep its tests in a folder beside it, as otter does: exercises/<slug>/tests/.

Here: reading a folder or a zip within limits (`Source`). What it says, checked, is
`catalog.plan`; writing a course out, `catalog.export`; importing one, all or nothing and
in place, `catalog.services.course_import`.
"""

import os
import zipfile
from pathlib import Path, PurePosixPath

FORMAT = 1
REQUIREMENTS = "requirements.txt"


class CourseFolderInvalid(ValueError):
    """The folder cannot be imported; `problems` lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


# What an import reads at most: a course is text and notebooks, never gigabytes. A zip's
# members are checked before anything is decompressed (a zip bomb declares its sizes), and
# read in pieces that stop at the declared size.
MAX_FILES = 2000
MAX_FILE_BYTES = 25 * 1024 * 1024
MAX_TOTAL_BYTES = 200 * 1024 * 1024
MAX_COMPRESSION_RATIO = 100
READ_CHUNK = 1024 * 1024


class Source:
    """A course folder or zip, read file by file (a zip is never extracted). Nothing outside
    the folder is read: a symbolic link that leads out of it is refused."""

    def __init__(self, path: Path) -> None:
        self._files: dict[str, bytes] = {}
        if path.is_dir():
            self._files = _read_folder(path)
        elif zipfile.is_zipfile(path):
            self._files = _strip_root_folder(_read_zip(path))
        else:
            raise CourseFolderInvalid([f"{path.name}: neither a folder nor a zip file"])

    def read(self, name: str) -> bytes | None:
        return self._files.get(name)

    def names(self) -> list[str]:
        return sorted(self._files)


def _read_folder(path: Path) -> dict[str, bytes]:
    root = path.resolve()
    files: dict[str, bytes] = {}
    problems: list[str] = []
    total = 0
    for folder, subfolders, names in os.walk(path):  # never into a linked folder
        here = Path(folder)
        subfolders[:] = [d for d in subfolders if d != ".git"]
        for entry in sorted([*subfolders, *names]):
            file = here / entry
            name = file.relative_to(path).as_posix()
            if file.is_symlink() and not file.resolve().is_relative_to(root):
                problems.append(f"{name}: a link to outside the course folder, not followed")
                continue
            if entry in subfolders or not file.is_file():
                continue
            size = file.stat().st_size
            total += size
            if size > MAX_FILE_BYTES:
                problems.append(f"{name}: larger than {MAX_FILE_BYTES // 2**20} MB")
            elif len(files) >= MAX_FILES or total > MAX_TOTAL_BYTES:
                raise CourseFolderInvalid([_too_much()])
            else:
                files[name] = file.read_bytes()
    if problems:
        raise CourseFolderInvalid(problems)
    return files


def _too_much() -> str:
    return (
        f"more than {MAX_FILES} files or {MAX_TOTAL_BYTES // 2**20} MB in all: "
        "a course folder holds text and notebooks"
    )


def _read_zip(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        members = [i for i in archive.infolist() if not i.is_dir()]
        if len(members) > MAX_FILES or sum(i.file_size for i in members) > MAX_TOTAL_BYTES:
            raise CourseFolderInvalid([_too_much()])
        problems = [
            f"{i.filename}: larger than {MAX_FILE_BYTES // 2**20} MB, or compressed more than "
            f"{MAX_COMPRESSION_RATIO} times (a zip bomb?)"
            for i in members
            if i.file_size > MAX_FILE_BYTES
            or i.file_size > MAX_COMPRESSION_RATIO * max(i.compress_size, 1024)
        ]
        if problems:
            raise CourseFolderInvalid(problems)
        return {i.filename: _read_member(archive, i) for i in members}


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    data = bytearray()
    with archive.open(info) as member:
        while piece := member.read(READ_CHUNK):
            data += piece
            if len(data) > info.file_size:  # never more than it declared
                raise CourseFolderInvalid([f"{info.filename}: larger than it declares"])
    return bytes(data)


def _strip_root_folder(members: dict[str, bytes]) -> dict[str, bytes]:
    """A zip holds course.yaml at its root or inside one top folder."""
    if "course.yaml" in members:
        return members
    roots = {PurePosixPath(name).parts[0] for name in members}
    if len(roots) == 1:
        root = roots.pop()
        return {name[len(root) + 1 :]: data for name, data in members.items()}
    return members

import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_platform_folder_is_not_a_package() -> None:
    assert not (ROOT / "platform" / "__init__.py").exists()


def test_import_platform_gives_the_standard_library_module() -> None:
    # platform/ is on sys.path's parent (the repository root is sys.path[0] in manage.py and
    # pytest), so a namespace package could shadow the stdlib if an __init__ appeared.
    module = importlib.import_module("platform")
    assert module.__file__ is not None
    assert Path(module.__file__).parent == Path(importlib.import_module("os").__file__).parent
    assert callable(module.python_version)
    assert str(ROOT) in sys.path or "." in sys.path or "" in sys.path


def test_uuid_and_redis_import_cleanly_beside_the_platform_folder() -> None:
    # These import `platform` internally; a shadowing package would break them.
    import uuid

    import redis

    assert uuid.uuid4().version == 4
    assert redis.Redis is not None

"""Static files with hashed names, compressed, served by WhiteNoise with a long cache."""

from typing import Any

from whitenoise.storage import CompressedManifestStaticFilesStorage


class HashedStaticFilesStorage(CompressedManifestStaticFilesStorage):
    """app.css becomes app.<hash>.css: WhiteNoise serves hashed names with a year-long
    immutable cache, and a changed file gets a new name, so no browser keeps a stale one.

    A stylesheet may name a file we do not ship: KaTeX's CSS lists .woff and .ttf fallbacks
    of fonts vendored as .woff2 only (every browser we support reads woff2). Such a
    reference is left as written instead of failing collectstatic.
    """

    def hashed_name(self, name: str, content: Any = None, filename: str | None = None) -> str:
        if content is None and not self.exists(filename or name.split("?")[0].split("#")[0]):
            return name
        return super().hashed_name(name, content, filename)

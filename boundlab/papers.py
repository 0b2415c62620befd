"""The identity of a paper whose claims BoundLab checks."""

from __future__ import annotations

import re
from dataclasses import dataclass

from boundlab.errors import UsageError

_KEY = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Paper:
    """A paper: ``key`` is kebab-case and is the prefix of every claim id of the paper."""

    key: str
    title: str
    authors: tuple[str, ...]
    venue: str
    year: int
    arxiv: str

    def __post_init__(self) -> None:
        if not _KEY.match(self.key):
            raise UsageError(f"Paper key {self.key!r} must be kebab-case (lower-case words joined by '-').")
        if not self.authors:
            raise UsageError(f"Paper {self.key!r}: authors must not be empty.")

    @property
    def arxiv_id(self) -> str | None:
        """The arXiv identifier, or None for a paper without one (``arxiv`` given as "" or "none")."""
        return None if self.arxiv.strip().lower() in ("", "none") else self.arxiv.strip()

    @property
    def citation(self) -> str:
        """'Authors. Title. Venue Year. arXiv:id.': written from the fields, the one place a citation is typed."""
        authors = ", ".join(self.authors)
        tail = f" arXiv:{self.arxiv_id}." if self.arxiv_id else ""
        return f"{authors}. {self.title}. {self.venue} {self.year}.{tail}"

    def to_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "title": self.title,
            "authors": list(self.authors),
            "venue": self.venue,
            "year": self.year,
            "arxiv": self.arxiv,
        }

"""How the objective walks over response positions: in chunks that respect the reference-covered prefix."""

from __future__ import annotations


def position_chunks(n: int, covered: int, chunk_size: int) -> list[slice]:
    """Chunks of at most `chunk_size` positions over [0, covered) and then [covered, n), so no
    chunk straddles the end of the reference-covered prefix."""
    return [slice(start, min(start + chunk_size, stop))
            for begin, stop in ((0, covered), (covered, n)) for start in range(begin, stop, chunk_size)]

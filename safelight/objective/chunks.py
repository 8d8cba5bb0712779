"""How the objective walks over response positions: in chunks that respect the reference-covered prefix."""

from __future__ import annotations


def position_chunks(n: int, covered: int, chunk_size: int) -> list[tuple[slice, bool]]:
    """(chunk, has_reference) for chunks of at most `chunk_size` positions over [0, covered), which
    have reference hidden states, and then over [covered, n), which do not: no chunk straddles the
    end of the reference-covered prefix."""
    return [(slice(start, min(start + chunk_size, stop)), with_reference)
            for begin, stop, with_reference in ((0, covered, True), (covered, n, False))
            for start in range(begin, stop, chunk_size)]

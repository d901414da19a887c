"""Budgets for reading SVG: every input gets bounded work and memory, checked before the work.

A hostile or broken file (a 250-byte arc of radius 1e40, a ``<use>`` chain of 10^9 copies,
``/dev/zero``) must end quickly with one clear :class:`SvgImportError` that names the limit and
how to raise it, never run for minutes or exhaust memory. The limits are data, in one place;
raise one with ``load_svg(path, limits=SvgLimits(max_segments=...))`` or, on the command line,
``clipdraw render --limit max_segments=...``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

__all__ = ["SvgImportError", "SvgLimits", "exceeded"]


class SvgImportError(ValueError):
    """The file is not an SVG document that can be read (empty, not XML, not SVG), or reading it
    would exceed one of the :class:`SvgLimits`."""


@dataclass(frozen=True)
class SvgLimits:
    """The most an SVG file may ask for; each is checked before the work it bounds.

    Args:
        max_file_bytes: size of the file, after gunzip for ``.svgz``.
        max_elements: XML elements in the file.
        max_depth: nesting depth of XML elements.
        max_use_copies: elements drawn once every ``<use>`` is expanded (a chain of uses
            multiplies).
        max_segments: path segments once shapes, arcs and uses are expanded.
        max_padded_points: paths x longest path, the size of the Scene's padded points tensor.
        max_normaliser_fuel: instructions (wasm fuel) the usvg normaliser may run, about 1e9 a
            second.
        max_normaliser_mib: memory the usvg normaliser may use, MiB.
    """

    max_file_bytes: int = 64 * 2**20
    max_elements: int = 500_000
    max_depth: int = 256
    max_use_copies: int = 1_000_000
    max_segments: int = 250_000
    max_padded_points: int = 16_000_000
    max_normaliser_fuel: int = 20_000_000_000
    max_normaliser_mib: int = 1024

    def replace(self, **changes: int) -> SvgLimits:
        """A copy with some limits changed; unknown names and non-positive values are refused
        with a ``ValueError`` naming them."""
        names = {f.name for f in dataclasses.fields(self)}
        for name, value in changes.items():
            if name not in names:
                raise ValueError(f"unknown SVG limit {name!r}; known: {', '.join(sorted(names))}")
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"SVG limit {name} must be a positive whole number, got {value!r}")
        return dataclasses.replace(self, **changes)


def exceeded(limits: SvgLimits, name: str, needed: str) -> SvgImportError:
    """The error for a file that needs more than ``limits.<name>``: one line naming the limit,
    what the file needs and how to raise it."""
    value = getattr(limits, name)
    return SvgImportError(
        f"the SVG needs {needed}, over the limit {name}={value}; raise it with "
        f"--limit {name}=N (clipdraw render) or SvgLimits({name}=N) (load_svg)"
    )

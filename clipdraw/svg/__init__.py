"""SVG round trip: :func:`save_svg` writes a scene, :func:`load_svg` reads any supported SVG."""

from clipdraw.svg.export import save_svg, scene_to_svg
from clipdraw.svg.limits import SvgLimits
from clipdraw.svg.load import SvgImportError, load_svg, read_svg_metadata

__all__ = ["SvgImportError", "SvgLimits", "load_svg", "read_svg_metadata", "save_svg",
           "scene_to_svg"]

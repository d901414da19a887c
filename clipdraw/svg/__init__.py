"""SVG round trip: :func:`save_svg` writes a scene, :func:`load_svg` reads any supported SVG."""

from clipdraw.svg.export import save_svg, scene_to_svg

__all__ = ["save_svg", "scene_to_svg"]

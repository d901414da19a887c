"""Planned capacities: rendering without waiting for the device to learn how long lists are.

The renderer's work lists (pieces, searched pixels, fragments, supersampled pixels) have
lengths that depend on the geometry. Unplanned, it reads each length back from the device: free
on a CPU, but on a GPU every read is a host-device synchronisation. An optimisation renders a
slowly changing scene hundreds of times, so it can hand the renderer a :class:`RenderPlan`: the
first render measures the lengths, later ones use fixed capacities with some headroom and leave
what they needed on the device, to be checked where the host waits for the device anyway.
"""

from __future__ import annotations

import math
from collections.abc import Hashable

import torch
from torch import Tensor

from clipdraw.render.settings import RenderSettings

__all__ = ["RenderPlan", "Sizes", "put", "spread"]


class RenderPlan:
    """Capacities for the work lists of repeated renders of one evolving scene.

    Pass the same plan to every :func:`clipdraw.render` call of an optimisation. The first
    render measures (and synchronises); later ones do not. After a render, :meth:`fits` says
    whether every list fitted: if not, that render dropped work and should be repeated, and the
    plan measures afresh on the next render. A planned render does not check the scene's
    values either: bad values make :meth:`fits` false, and the next render names them.
    A scene of another structure (batch, paths, points, canvas, scale or settings) is measured
    afresh. How much the capacities exceed the measured lengths is set by
    :class:`~clipdraw.render.RenderSettings` (``headroom``, ``slack``).

    Examples:
        >>> import torch
        >>> import clipdraw
        >>> scene = clipdraw.Scene.create(torch.tensor([[[2.0, 2], [6, 2], [10, 6], [14, 14]]]),
        ...                               torch.tensor([1]), 16, 16, stroke_width=2.0,
        ...                               stroke_color=torch.tensor([0.0, 0, 0, 1]))
        >>> plan = clipdraw.render.RenderPlan()
        >>> first = clipdraw.render(scene, plan=plan)  # measures
        >>> plan.measured
        True
        >>> again = clipdraw.render(scene, plan=plan)  # planned: reads nothing back
        >>> plan.fits() and torch.equal(first, again)
        True
    """

    def __init__(self) -> None:
        self.capacities: dict[Hashable, int | list] = {}
        self.structure: Hashable = None
        self._needed: dict[Hashable, Tensor] = {}

    @property
    def measured(self) -> bool:
        """Whether a render has measured the capacities."""
        return bool(self.capacities)

    def fits(self) -> bool:
        """Whether the last render's lists all fitted their capacities (one device read).

        A render that overflowed has dropped work; the plan then forgets its capacities, so
        that the next render measures them again.
        """
        if not self._needed:
            return True
        keys = list(self._needed)
        needed = torch.stack([self._needed[key].reshape(()).long() for key in keys]).tolist()
        self._needed = {}
        if all(n <= self.capacities.get(k, 0) for k, n in zip(keys, needed)):
            return True
        self.capacities = {}
        return False


class Sizes:
    """Lengths of one render's work lists: measured, or taken from a measured plan.

    In planned mode each list has a fixed capacity; the indices returned are padded with the
    list's length, so that reads clamp into range and writes land in a spare last slot.
    """

    def __init__(self, plan: RenderPlan | None, structure: Hashable,
                 settings: RenderSettings) -> None:
        structure = (structure, settings)
        if plan is not None:
            # fits() speaks of the latest render only.
            plan._needed = {}
            if plan.structure != structure:
                plan.capacities, plan.structure = {}, structure
        self.plan = plan
        self.settings = settings
        self.planned = plan is not None and plan.measured

    def count(self, key: Hashable, total: Tensor) -> int:
        """The length ``total`` (a device scalar): read, or its planned capacity."""
        if not self.planned:
            value = int(total)
            if self.plan is not None:
                self.plan.capacities[key] = self._grown(value)
            return value
        self.plan._needed[key] = total
        return self.plan.capacities.get(key, 0)

    def forbid(self, key: Hashable, broken) -> None:
        """Planned, make the plan fail to fit if ``broken()`` (a 0-dim bool tensor) is true;
        measured renders check such things themselves."""
        if self.planned:
            self.plan._needed[key] = broken()

    def flag(self, key: Hashable, value: Tensor) -> bool:
        """A boolean (a device scalar) that decides which work is done: read, or planned."""
        if not self.planned:
            result = bool(value)
            if self.plan is not None:
                self.plan.capacities[key] = int(result)
            return result
        self.plan._needed[key] = value
        return bool(self.plan.capacities.get(key, 0))

    def nonzero(self, key: Hashable, mask: Tensor) -> Tensor:
        """Indices of the true entries of a 1-D ``mask``; planned, padded with ``len(mask)``
        up to the capacity."""
        if not self.planned:
            index = torch.nonzero(mask).squeeze(1)
            if self.plan is not None:
                self.plan.capacities[key] = self._grown(index.numel())
            return index
        self.plan._needed[key] = mask.sum()
        return _true_indices(mask, self.plan.capacities.get(key, 0))

    def distinct(self, key: Hashable, values: Tensor, ignore: int) -> list[int]:
        """The sorted distinct ``values`` other than ``ignore`` (read, or those of the
        measuring render), and twice the largest, to grow into. Work is batched by these
        values, each batch taking the values above the previous one up to its own; planned,
        a value above the last makes the plan overflow."""
        if not self.planned:
            found = [v for v in torch.unique(values).tolist() if v != ignore]
            found = found + [2 * found[-1]] if found else []
            if self.plan is not None:
                self.plan.capacities[key] = found
            return found
        found = self.plan.capacities.get(key, [])
        self.plan._needed[(key, "larger")] = (values > (found[-1] if found else ignore)).sum()
        return found

    def groups(self, measure) -> list[tuple[int, int]]:
        """The layer groups: ``measure()``'s, or those of the measuring render."""
        if not self.planned:
            groups = measure()
            if self.plan is not None:
                self.plan.capacities["groups"] = groups
            return groups
        return self.plan.capacities["groups"]

    def _grown(self, length: int) -> int:
        return math.ceil(length * self.settings.headroom) + self.settings.slack


def _true_indices(mask: Tensor, size: int) -> Tensor:
    """The first ``size`` indices of true entries of ``mask``, padded with ``len(mask)``:
    ``torch.nonzero_static``, which older torch versions lack on CUDA."""
    count = mask.numel()
    rank = torch.cumsum(mask, 0) - 1
    target = torch.where(mask & (rank < size), rank, size)
    index = torch.full((size + 1,), count, dtype=torch.long, device=mask.device)
    return index.scatter(0, target, torch.arange(count, device=mask.device))[:size]


def spread(counts: Tensor, length: int) -> tuple[Tensor, Tensor]:
    """For each of ``length`` slots, which entry of ``counts`` it belongs to and its position
    within that entry's run: ``repeat_interleave`` with a fixed output length. Slots past
    ``counts.sum()`` belong to entry ``len(counts)``.

    Shape:
        - counts: :math:`(N,)` long
        - Output: two :math:`(length,)` long tensors
    """
    ends = torch.cumsum(counts, 0)
    slot = torch.arange(length, device=counts.device)
    owner = torch.searchsorted(ends, slot, right=True)
    starts = torch.cat([ends.new_zeros(1), ends])
    return owner, slot - starts[owner.clamp(max=counts.numel())]


def put(values: Tensor, index: Tensor, update: Tensor) -> Tensor:
    """``values`` with ``update`` written at ``index``; padding indices (``len(values)``)
    write nowhere. Differentiable in both.

    Shape:
        - values: :math:`(N, ...)`
        - index: :math:`(M,)` long in [0, N]
        - update: :math:`(M, ...)`
    """
    spare = values.new_zeros((1, *values.shape[1:]))
    return torch.cat([values, spare]).index_put((index,), update.to(values.dtype))[:-1]

"""Keeping the best drawing of a run, stopping when it no longer improves, and best-of ranking.

A drawing's **score** is its own loss, negated, on **fixed views**: views sampled once per
drawing from a generator seeded with the drawing's seed (apart from the drawing's own generator,
so scoring never changes the optimisation) and reused at every evaluation. Higher is better.
With one text prompt of weight 1 the score is the sum of the views' cosine similarities to it;
with a pixel target alone it is minus the mean squared error (PSNR rises with it). Scores of one
drawing are comparable with each other, and with those of drawings that differ only in seed
(best-of), since all share the loss and the number of views.

:class:`BestKeeper` holds, per drawing, the best score so far, its step and its parameters, and
how many evaluations passed without improvement; :func:`best_index` is the one ranking rule
(``clipdraw draw --best-of`` and ``clipdraw batch --best-of`` both use it).

Example:
    >>> import torch
    >>> keeper = BestKeeper(every=[2], patience=[2])
    >>> for step, score in ((2, 0.5), (4, 0.7), (6, 0.6), (8, 0.7)):
    ...     improved = keeper.update(step, [score], {"points": torch.zeros(1, 3)})
    >>> keeper.best_step, keeper.best_score, keeper.stopped_at
    ([4], [0.7], [8])
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from torch import Tensor

from clipdraw.options import OPTION_BY_KEY

__all__ = ["MAX_BEST_OF", "MAX_SEED", "BestKeeper", "best_index", "candidate_seeds"]

#: Most seeds ``clipdraw draw --best-of`` draws together (they share one batch in memory).
MAX_BEST_OF = 64
#: The largest seed (the ``seed`` option's bound).
MAX_SEED = int(OPTION_BY_KEY["seed"].type.maximum)  # type: ignore[attr-defined]


def best_index(scores: Sequence[float | None]) -> int:
    """Index of the highest score; ``None`` and NaN rank below any number, ties go to the first.

    >>> best_index([0.2, None, 0.5, float("nan"), 0.5])
    2
    """
    if not scores:
        raise ValueError("nothing to rank")

    def key(i: int) -> float:
        value = scores[i]
        return -math.inf if value is None or value != value else float(value)

    return max(range(len(scores)), key=key)


def candidate_seeds(seed: int, count: int) -> list[int]:
    """The seeds of ``count`` best-of candidates: ``seed, seed + 1, ...`` (as ``batch`` draws).

    >>> candidate_seeds(7, 3)
    [7, 8, 9]
    """
    return [int(seed) + c for c in range(count)]


class BestKeeper:
    """Per drawing: the best score so far, its step and parameters, and the early stop.

    Args:
        every: per drawing, evaluate after every ``every``-th step (0: never; the result is the
            last drawing).
        patience: per drawing, stop after this many evaluations in a row without a higher score
            (0: never).

    Convention:
        Steps count from 1 (the drawing after the first step is step 1). A drawing is evaluated
        after steps ``every, 2 * every, ...`` and after the run's last step; an evaluation
        improves on the best when its score is strictly higher. A stopped drawing is not
        evaluated or stepped again; its ``stopped_at`` is the step after which it stopped.
    """

    def __init__(self, every: Sequence[int], patience: Sequence[int]) -> None:
        if len(every) != len(patience):
            raise ValueError("need one 'every' and one 'patience' per drawing")
        self.every = [int(k) for k in every]
        self.patience = [int(p) for p in patience]
        batch = len(self.every)
        self.best_step: list[int | None] = [None] * batch
        self.best_score: list[float | None] = [None] * batch
        self.best_loss: list[float | None] = [None] * batch
        self.best_fields: list[dict[str, Tensor] | None] = [None] * batch
        self.since_best = [0] * batch
        self.stopped_at: list[int | None] = [None] * batch

    @property
    def tracking(self) -> list[bool]:
        """Per drawing, whether it is evaluated at all."""
        return [k > 0 for k in self.every]

    @property
    def active(self) -> list[bool]:
        """Per drawing, whether it is still optimised (not stopped early)."""
        return [s is None for s in self.stopped_at]

    @property
    def all_stopped(self) -> bool:
        return all(s is not None for s in self.stopped_at)

    def due(self, step: int, last: bool = False) -> list[bool]:
        """Per drawing, whether it is evaluated after ``step`` (``last``: the run's last step)."""
        return [k > 0 and stopped is None and (last or step % k == 0)
                for k, stopped in zip(self.every, self.stopped_at)]

    def update(
        self,
        step: int,
        scores: Sequence[float | None],
        fields: Mapping[str, Tensor],
        losses: Sequence[float] | None = None,
    ) -> list[bool]:
        """Record the scores of the drawings evaluated after ``step`` (``None``: not evaluated);
        keep the parameters of those that improved and stop those out of patience.

        Args:
            scores: per drawing, its score or ``None``.
            fields: the drawings' parameters by kind, each batch-first (``fields[k][b]`` is
                drawing ``b``'s), detached; copied for the drawings that improved.
            losses: per drawing, the training loss of ``step`` (kept beside the best).

        Returns per drawing whether it improved.
        """
        improved = []
        for b, score in enumerate(scores):
            better = score is not None and self.stopped_at[b] is None and (
                self.best_score[b] is None or score > self.best_score[b])
            improved.append(better)
            if score is None or self.stopped_at[b] is not None:
                continue
            if better:
                self.best_step[b], self.best_score[b] = step, float(score)
                self.best_loss[b] = None if losses is None else float(losses[b])
                self.best_fields[b] = {k: v[b].detach().clone() for k, v in fields.items()}
                self.since_best[b] = 0
            else:
                self.since_best[b] += 1
                if 0 < self.patience[b] <= self.since_best[b]:
                    self.stopped_at[b] = step
        return improved

    def fields(self, current: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """``current`` (batch-first parameters by kind) with each kept drawing's best in place.

        Shape:
            - current: each :math:`(B, ...)`; the output has the same shapes.
        """
        out = {k: v.clone() for k, v in current.items()}
        for b, kept in enumerate(self.best_fields):
            if kept is not None:
                for kind, value in kept.items():
                    out[kind][b] = value
        return out

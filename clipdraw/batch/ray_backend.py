"""Run batches as Ray tasks: one task per batch, a GPU each when the cluster has GPUs.

The driver keeps every file write and the manifest (:func:`clipdraw.batch.run.run_batch`);
workers only draw and return CPU tensors. Tasks that die (worker crash, node loss) or raise are
retried ``max_retries`` times; a batch that still fails becomes error entries for its drawings.
Ray is imported only here and only when used (the ``ray`` extra: ``pip install ".[ray]"`` in a
checkout). Per-step progress is not reported from workers; finished drawings are.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from clipdraw.batch.run import Drawn, Work, WorkFn
from clipdraw.settings import DrawSettings

__all__ = ["RayExecutor", "import_ray", "task_options"]

_INSTALL_HINT = ("the --ray backend needs Ray: pip install 'ray[default]>=2.9' (or, in a "
                 "clipdraw checkout, pip install '.[ray]')")


def import_ray() -> Any:
    """Import Ray, or raise ``ImportError`` saying how to install it."""
    try:
        import ray
    except ImportError as error:
        raise ImportError(_INSTALL_HINT) from error
    return ray


def _run_work(work: WorkFn, settings: Sequence[DrawSettings]) -> list[Drawn]:
    """Ray task body: draw one batch on the worker, reusing the worker's loaded models."""
    if isinstance(work, Work) and work.draw_fn is None:
        work = _worker_work(work.device, work.judge_model, work.judge_pretrained)
    return work(settings)


@functools.lru_cache(maxsize=1)
def _worker_work(device: str | None, judge_model: str | None,
                 judge_pretrained: str | None) -> Work:
    """One :class:`Work` per worker process and configuration: Ray reuses worker processes,
    so later tasks find the CLIP models already loaded (a per-process cache)."""
    return Work(device=device, judge_model=judge_model, judge_pretrained=judge_pretrained)


def task_options(resources: Mapping[str, float], max_retries: int) -> dict[str, Any]:
    """Ray task options: one GPU per batch when the cluster has GPUs (else one CPU), retried
    after crashes and exceptions."""
    gpu = float(resources.get("GPU", 0)) >= 1
    return {"num_cpus": 1, "num_gpus": 1 if gpu else 0, "max_retries": max_retries,
            "retry_exceptions": True}


def _package_root() -> str:
    """Folder holding the ``clipdraw`` package, so local workers import this same code."""
    return str(Path(__file__).resolve().parents[2])


class RayExecutor:
    """Executor for :func:`~clipdraw.batch.run.run_batch` that spreads batches over Ray.

    Args:
        address: cluster address (``"auto"``, ``"ray://host:10001"``); ``None`` connects to an
            already initialised Ray or starts a local one.
        max_retries: retries per task after a crash or an exception.
        max_in_flight: tasks submitted at once (``None``: twice the cluster's task slots), so
            results stream back and a Ctrl-C loses only those.
        init_kwargs: extra arguments for ``ray.init`` when this executor starts Ray.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        max_retries: int = 3,
        max_in_flight: int | None = None,
        init_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        self.address = address
        self.max_retries = max_retries
        self.max_in_flight = max_in_flight
        self.init_kwargs = dict(init_kwargs or {})

    def _connect(self, ray: Any) -> bool:
        """Initialise Ray unless it already is; return whether this call started it."""
        if ray.is_initialized():
            return False
        kwargs: dict[str, Any] = {"ignore_reinit_error": True, "log_to_driver": False}
        if self.address is None:
            kwargs["include_dashboard"] = False
        kwargs.update(self.init_kwargs)
        env_vars = {"PYTHONPATH": os.pathsep.join(
            part for part in (_package_root(), os.environ.get("PYTHONPATH", "")) if part
        )}
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
            if name in os.environ:
                env_vars[name] = os.environ[name]
        runtime_env = dict(kwargs.pop("runtime_env", None) or {})
        runtime_env["env_vars"] = {**env_vars, **runtime_env.get("env_vars", {})}
        ray.init(address=self.address, runtime_env=runtime_env, **kwargs)
        return True

    def __call__(
        self, batches: Sequence[Sequence[DrawSettings]], work: WorkFn
    ) -> Iterator[tuple[int, list[Drawn]]]:
        """Submit every batch, yield ``(index, drawings)`` as tasks finish (any order)."""
        ray = import_ray()
        started = self._connect(ray)
        try:
            resources = ray.cluster_resources()
            options = task_options(resources, self.max_retries)
            task = ray.remote(**options)(_run_work)
            slots = resources.get("GPU", 0) if options["num_gpus"] else resources.get("CPU", 1)
            limit = self.max_in_flight or max(2 * int(slots), 1)
            work_ref = ray.put(work)
            queue = list(enumerate(batches))
            in_flight: dict[Any, int] = {}
            try:
                while queue or in_flight:
                    while queue and len(in_flight) < limit:
                        index, batch = queue.pop(0)
                        in_flight[task.remote(work_ref, list(batch))] = index
                    ready, _ = ray.wait(list(in_flight), num_returns=1)
                    for ref in ready:
                        index = in_flight.pop(ref)
                        yield index, self._result(ray, ref, batches[index])
            finally:
                for ref in in_flight:
                    ray.cancel(ref, force=True)
        finally:
            if started:
                ray.shutdown()

    @staticmethod
    def _result(ray: Any, ref: Any, batch: Sequence[DrawSettings]) -> list[Drawn]:
        """The task's drawings, or one error per drawing when it failed after its retries."""
        try:
            return ray.get(ref)
        except Exception as error:  # noqa: BLE001 - RayTaskError, WorkerCrashedError, ...
            message = f"ray task failed: {type(error).__name__}: {str(error).splitlines()[0]}"
            return [Drawn(settings=settings, error=message, reason="ray task failed")
                    for settings in batch]

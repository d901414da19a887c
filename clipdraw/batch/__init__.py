"""Many drawings at once: prompts files, resumable runs, batched optimisation, Ray.

>>> from clipdraw.batch import read_rows, run_batch
>>> run_batch(read_rows("prompts.txt"), "out/", seeds=4, batch_size=8)  # doctest: +SKIP
"""

from clipdraw.batch.lock import FolderBusy, FolderLock
from clipdraw.batch.manifest import MANIFEST_NAME, Manifest, ManifestWriteError, read_manifest
from clipdraw.batch.ray_backend import RayExecutor
from clipdraw.batch.rows import Job, Row, expand_jobs, parse_rows, read_rows, slugify
from clipdraw.batch.run import (
    BatchSummary,
    Drawn,
    Judge,
    make_batches,
    plan_jobs,
    run_batch,
)

__all__ = [
    "MANIFEST_NAME",
    "BatchSummary",
    "Drawn",
    "FolderBusy",
    "FolderLock",
    "Job",
    "Judge",
    "Manifest",
    "ManifestWriteError",
    "RayExecutor",
    "Row",
    "expand_jobs",
    "make_batches",
    "parse_rows",
    "plan_jobs",
    "read_manifest",
    "read_rows",
    "run_batch",
    "slugify",
]

"""Many drawings at once: prompts files, resumable runs, batched optimisation, Ray.

>>> from clipdraw.batch import read_rows, run_batch  # doctest: +SKIP
>>> run_batch(read_rows("prompts.txt"), "out/", seeds=4, batch_size=8)  # doctest: +SKIP
"""

from clipdraw.batch.manifest import MANIFEST_NAME, Manifest, read_manifest
from clipdraw.batch.ray_backend import RayExecutor
from clipdraw.batch.rows import Job, Row, expand_jobs, parse_rows, read_rows, slugify
from clipdraw.batch.run import BatchSummary, Drawn, Judge, make_batches, run_batch

__all__ = [
    "MANIFEST_NAME",
    "BatchSummary",
    "Drawn",
    "Job",
    "Judge",
    "Manifest",
    "RayExecutor",
    "Row",
    "expand_jobs",
    "make_batches",
    "parse_rows",
    "read_manifest",
    "read_rows",
    "run_batch",
    "slugify",
]

"""Export the best network as a production bundle, load it back, and write batch
recommendations (docs/design.md#what-users-touch; soft-split paper's production pipeline).

- :func:`write_bundle` / :func:`load_bundle`: the bundle format (see :mod:`._bundle`).
- :func:`export_bundle`: a search run directory or an ``autorec train --save`` folder → bundle.
- :func:`recommend`: top-K for every customer / session into SQLite or Parquet.
- ``standalone.py``: the torch-only loader copied into every bundle as ``load.py``.
"""

from autorec.export._bundle import (
    FORMAT_VERSION,
    Bundle,
    BundleContents,
    gather_state_dict,
    load_bundle,
    model_version_of,
    read_manifest,
    sha256_file,
    write_bundle,
)
from autorec.export._export import NO_DATA_IDS, bundle_contents, export_bundle, export_plan
from autorec.export._recommend import (
    DEFAULT_BATCH,
    full_prefix_samples,
    input_window,
    latest_examples,
    padded_rows,
    rank_scored,
    recommend,
    remap_sessions,
    window_examples,
)
from autorec.export._writers import (
    COLUMNS,
    TABLE,
    ParquetRecWriter,
    SQLiteRecWriter,
    open_writer,
    read_recommendations,
)

__all__ = [
    "COLUMNS",
    "DEFAULT_BATCH",
    "FORMAT_VERSION",
    "NO_DATA_IDS",
    "TABLE",
    "Bundle",
    "BundleContents",
    "ParquetRecWriter",
    "SQLiteRecWriter",
    "bundle_contents",
    "export_bundle",
    "export_plan",
    "full_prefix_samples",
    "gather_state_dict",
    "input_window",
    "latest_examples",
    "load_bundle",
    "model_version_of",
    "open_writer",
    "padded_rows",
    "rank_scored",
    "read_manifest",
    "read_recommendations",
    "recommend",
    "remap_sessions",
    "sha256_file",
    "window_examples",
    "write_bundle",
]

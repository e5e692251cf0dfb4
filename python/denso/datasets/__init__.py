"""Datasets: IDX files (MNIST, Fashion-MNIST), CSV and .npz tables, and the built-in problems.

Where the IDX datasets are looked for, in order (the first directory holding all four files wins):

1. the `path` argument, when given (then nowhere else);
2. `$DENSO_DATA/<name>`, e.g. `$DENSO_DATA/fashion-mnist`;
3. the system directory `/usr/share/datasets/<name>` (where Debian's `dataset-fashion-mnist`
   puts its files; `$DENSO_SYSTEM_DATASETS` replaces `/usr/share/datasets`);
4. the user cache `$XDG_CACHE_HOME/denso/<name>` (default `~/.cache/denso/<name>`).

When none has them, the loaders download the files from the dataset's canonical location into
the cache, checking each file's published MD5 (a download is written under a temporary name and
renamed only once its checksum matches; a mismatch deletes it and raises). Offline, they raise
FileNotFoundError saying how to get the files.

The modules: `idx` (the file format), `catalog` (URLs and checksums), `locations` (the lookup
above), `download`, `images` (the MNIST-style loaders), `tables` (CSV and .npz files), `splits`
(train/test splits of a table) and `named` (the datasets `denso train --data` knows by name).
"""
from __future__ import annotations

from ..standardization import Standardizer
from .catalog import DATASETS, FASHION_MNIST_FILES, IDX_FILES, IdxDataset
from .download import DOWNLOAD_TIMEOUT, download_dataset
from .idx import IDX_CODES, IDX_DTYPES, MAX_IDX_BYTES, read_idx, write_idx
from .images import load_fashion_mnist, load_idx_dataset, load_mnist, read_split
from .locations import cache_dir, dataset_dir, fashion_mnist_dir, mnist_dir, search_dirs, system_data_dir
from .named import NAMES, SYNTHETIC, load_dataset
from .splits import load_csv, load_npz, split_rows
from .tables import Table, csv_columns, read_table

__all__ = [
    "read_idx", "write_idx", "IDX_DTYPES", "IDX_CODES", "MAX_IDX_BYTES",
    "IdxDataset", "DATASETS", "FASHION_MNIST_FILES", "IDX_FILES",
    "cache_dir", "system_data_dir", "search_dirs", "dataset_dir", "fashion_mnist_dir", "mnist_dir",
    "DOWNLOAD_TIMEOUT", "download_dataset",
    "load_idx_dataset", "load_fashion_mnist", "load_mnist", "read_split",
    "Table", "read_table", "csv_columns", "Standardizer",
    "split_rows", "load_csv", "load_npz",
    "SYNTHETIC", "NAMES", "load_dataset",
]

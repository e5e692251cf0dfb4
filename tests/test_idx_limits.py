"""read_idx on hostile files: it reads what the header declares and no more, within a size limit."""
import gzip
import struct
import tracemalloc

import numpy as np
import pytest

from denso import datasets
from denso.datasets import MAX_IDX_BYTES, read_idx, write_idx


def _gzip_with_zeros(path, head: bytes, zeros: int) -> None:
    """A .gz of `head` followed by `zeros` zero bytes, written in chunks (a few KB on disk)."""
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(head)
        chunk = bytes(1 << 20)
        for _ in range(zeros >> 20):
            f.write(chunk)


def _peak_bytes(fn) -> int:
    """The peak of memory Python and numpy allocated while fn() ran (fn's exception is re-raised)."""
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_a_small_gz_that_inflates_far_beyond_its_header_is_not_inflated(tmp_path):
    # the header declares ten bytes; the file inflates to 32 MiB more (a .gz of about 150 KB)
    path = tmp_path / "bomb-idx1-ubyte.gz"
    _gzip_with_zeros(path, bytes([0, 0, 0x08, 1]) + struct.pack(">I", 10) + bytes(range(10)), 32 << 20)
    assert path.stat().st_size < 256_000

    def read():
        with pytest.raises(ValueError, match=r"should hold 18 bytes for shape \(10,\), but holds more "
                                             r"\(trailing data\)") as info:
            read_idx(path)
        assert str(path) in str(info.value)
    assert _peak_bytes(read) < 1 << 20  # not the 32 MiB the stream inflates to


def test_a_declared_size_beyond_the_limit_is_rejected_before_reading(tmp_path):
    path = tmp_path / "huge-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(bytes([0, 0, 0x08, 3]) + struct.pack(">III", 60000, 1000, 1000)))

    def read():
        with pytest.raises(ValueError, match=r"declares shape \(60000, 1000, 1000\) of uint8: 60,000,000,000 bytes "
                                             r"of data, more than the 1,073,741,824 read_idx reads by default; "
                                             r"pass max_bytes=None") as info:
            read_idx(path)
        assert str(path) in str(info.value)
    assert _peak_bytes(read) < 1 << 20
    assert MAX_IDX_BYTES == 1 << 30


def test_max_bytes_is_the_callers_to_raise_or_lower(tmp_path):
    arr = np.arange(12, dtype=np.uint8).reshape(3, 4)
    write_idx(tmp_path / "a.gz", arr)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz", max_bytes=12), arr)
    with pytest.raises(ValueError, match=r"12 bytes of data, more than the 11 read_idx reads"):
        read_idx(tmp_path / "a.gz", max_bytes=11)
    # a limit lifted: the declared size is allowed, and a truncated .gz still says so
    (tmp_path / "big.gz").write_bytes(gzip.compress(bytes([0, 0, 0x08, 2]) + struct.pack(">II", 1 << 16, 1 << 16)
                                                    + bytes(100)))
    with pytest.raises(ValueError, match=r"should hold 4294967308 bytes .* but holds 112 \(truncated\)"):
        read_idx(tmp_path / "big.gz", max_bytes=None)


def test_a_raw_file_is_checked_against_its_size_before_its_data_is_read(tmp_path):
    path = tmp_path / "short-idx1-ubyte"
    path.write_bytes(bytes([0, 0, 0x0D, 1]) + struct.pack(">I", 1 << 20) + bytes(8))  # 4 MiB of float32 declared
    with pytest.raises(ValueError, match=r"should hold 4194312 bytes for shape \(1048576,\), but holds 16 "
                                         r"\(truncated\)"):
        read_idx(path)


def test_big_endian_data_is_swapped_in_place_and_comes_back_native(tmp_path):
    arr = np.array([[1.5, -2.25], [3e38, -0.0]], dtype=np.float32)
    write_idx(tmp_path / "f.idx", arr)
    back = read_idx(tmp_path / "f.idx")
    assert back.dtype == np.float32 and back.dtype.isnative and back.flags.c_contiguous
    np.testing.assert_array_equal(back, arr)


def test_a_damaged_deflate_stream_is_a_value_error(tmp_path):
    packed = bytearray(gzip.compress(bytes([0, 0, 0x08, 1]) + struct.pack(">I", 4096) + bytes(4096)))
    packed[20] ^= 0x55  # inside the deflate data
    (tmp_path / "bad.gz").write_bytes(bytes(packed))
    with pytest.raises(ValueError, match="bad.gz"):
        read_idx(tmp_path / "bad.gz")


def test_load_dataset_reads_its_idx_files_within_the_limit(tmp_path, monkeypatch):
    """A Fashion-MNIST directory whose images file is a .gz bomb fails with the file's name."""
    directory = tmp_path / "fashion-mnist"
    directory.mkdir()
    images, labels = np.zeros((4, 28, 28), np.uint8), np.arange(4, dtype=np.uint8)
    for split, (x_name, y_name) in datasets.IDX_FILES.items():
        write_idx(directory / (x_name + ".gz"), images)
        write_idx(directory / (y_name + ".gz"), labels)
    x_name = datasets.IDX_FILES["train"][0]
    _gzip_with_zeros(directory / (x_name + ".gz"),
                     bytes([0, 0, 0x08, 3]) + struct.pack(">III", 4, 28, 28) + images.tobytes(), 16 << 20)
    monkeypatch.setenv("DENSO_DATA", str(tmp_path))
    with pytest.raises(ValueError, match=r"train-images.*trailing data"):
        datasets.load_dataset("fashion-mnist")

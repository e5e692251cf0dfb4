"""denso.datasets and denso.synthetic: IDX files, lookup and download, CSV/.npz tables, generators."""
import gzip
import hashlib
import io
import os
import re
import struct
import urllib.error

import numpy as np
import pytest

from denso import datasets, synthetic
from denso.datasets import (IdxDataset, Standardizer, load_csv, load_dataset, load_fashion_mnist, load_mnist,
                            load_npz, read_idx, read_table, split_rows, write_idx)

# ---- IDX -------------------------------------------------------------------------------------------


def test_read_idx_decodes_hand_written_bytes(tmp_path):
    # magic 0x00000803: uint8, 3 dims (2, 1, 3), then the 6 values row-major
    path = tmp_path / "u8.idx"
    path.write_bytes(bytes([0, 0, 0x08, 3]) + struct.pack(">III", 2, 1, 3) + bytes([1, 2, 3, 250, 251, 252]))
    arr = read_idx(path)
    assert arr.dtype == np.uint8 and arr.shape == (2, 1, 3)
    assert arr.tolist() == [[[1, 2, 3]], [[250, 251, 252]]]


def test_read_idx_decodes_big_endian_floats_and_ints(tmp_path):
    path = tmp_path / "f4.idx"
    path.write_bytes(bytes([0, 0, 0x0D, 1]) + struct.pack(">I", 2) + struct.pack(">ff", 1.5, -2.25))
    arr = read_idx(path)
    assert arr.dtype == np.float32 and arr.dtype.isnative and arr.tolist() == [1.5, -2.25]
    path.write_bytes(bytes([0, 0, 0x0C, 1]) + struct.pack(">I", 2) + struct.pack(">ii", -7, 70000))
    assert read_idx(path).tolist() == [-7, 70000]


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
def test_write_idx_then_read_idx_round_trips(tmp_path, dtype, name):
    arr = (np.arange(24).reshape(2, 3, 4) * (1.5 if np.dtype(dtype).kind == "f" else 1)).astype(dtype)
    if np.dtype(dtype).kind != "u":
        arr = arr - 5  # negative values too
    write_idx(tmp_path / name, arr)
    back = read_idx(tmp_path / name)
    assert back.dtype == arr.dtype and back.shape == arr.shape
    np.testing.assert_array_equal(back, arr)
    if name.endswith(".gz"):
        assert (tmp_path / name).read_bytes()[:2] == b"\x1f\x8b"  # really gzip


def test_write_idx_rejects_types_idx_cannot_hold(tmp_path):
    with pytest.raises(ValueError, match="IDX stores"):
        write_idx(tmp_path / "x.idx", np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="IDX stores"):
        write_idx(tmp_path / "x.idx", np.float32(1.0))


GOOD = bytes([0, 0, 0x08, 2]) + struct.pack(">II", 3, 4) + bytes(range(12))  # a valid 3×4 uint8 file


@pytest.mark.parametrize("raw, message", [
    (GOOD[:-1], "truncated"),
    (GOOD + b"\x00", "trailing data"),
    (GOOD[:10], "truncated IDX header"),
    (b"", "not an IDX file"),
    (b"\x1f\x8b\x08\x00" + GOOD[4:], "not an IDX file"),         # gzip magic in a file not named .gz
    (bytes([0, 0, 0x07, 2]) + GOOD[4:], "bad magic number"),      # unknown type code
    (bytes([1, 0, 0x08, 2]) + GOOD[4:], "bad magic number"),      # first bytes must be zero
    (bytes([0, 0, 0x08, 0]), "truncated IDX header"),            # zero dimensions
    (bytes([0, 0, 0x08, 3]) + GOOD[4:], "truncated|should hold"),  # one dimension more than written
])
def test_read_idx_rejects_damaged_files(tmp_path, raw, message):
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(raw)
    with pytest.raises(ValueError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_rejects_truncated_and_corrupted_gzip(tmp_path):
    packed = gzip.compress(GOOD)
    (tmp_path / "cut.gz").write_bytes(packed[:len(packed) // 2])
    with pytest.raises(ValueError, match="cannot read IDX file"):
        read_idx(tmp_path / "cut.gz")
    (tmp_path / "junk.gz").write_bytes(b"this is not gzip at all")
    with pytest.raises(ValueError, match="cannot read IDX file"):
        read_idx(tmp_path / "junk.gz")
    flipped = bytearray(packed)
    flipped[-6] ^= 0xFF  # the CRC-32 trailer
    (tmp_path / "crc.gz").write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="cannot read IDX file"):
        read_idx(tmp_path / "crc.gz")
    (tmp_path / "inner.gz").write_bytes(gzip.compress(GOOD[:-3]))  # valid gzip, truncated IDX inside
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "inner.gz")


def test_read_idx_missing_file_names_it(tmp_path):
    with pytest.raises(ValueError, match="cannot read IDX file .*nope"):
        read_idx(tmp_path / "nope")


# ---- IDX datasets: lookup, loading, download ---------------------------------------------------------
def write_fake_dataset(directory, n_train=6, n_test=4, gz=True, seed=0):
    """Four small IDX files in the Fashion-MNIST layout; returns the arrays written."""
    rng = np.random.default_rng(seed)
    os.makedirs(directory, exist_ok=True)
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n).astype(np.uint8)
        for stem, arr in zip(datasets.IDX_FILES[split], (images, labels)):
            write_idx(os.path.join(directory, stem + (".gz" if gz else "")), arr)
        arrays[split] = (images, labels)
    return arrays


@pytest.fixture
def no_data_anywhere(tmp_path, monkeypatch):
    """Empty $DENSO_DATA, system dir and cache; any download attempt fails the test."""
    for var, sub in (("DENSO_DATA", "data"), ("DENSO_SYSTEM_DATASETS", "system"), ("XDG_CACHE_HOME", "cache")):
        monkeypatch.setenv(var, str(tmp_path / sub))

    def no_network(url):
        raise AssertionError(f"unexpected download of {url}")

    monkeypatch.setattr(datasets.download, "_urlopen", no_network)
    return tmp_path


@pytest.mark.parametrize("gz", [True, False])
def test_load_fashion_mnist_from_an_explicit_directory(tmp_path, gz):
    written = write_fake_dataset(tmp_path / "fm", gz=gz)
    (x, y), (x_test, y_test) = load_fashion_mnist(tmp_path / "fm")
    assert x.shape == (6, 784) and x.dtype == np.float32 and x_test.shape == (4, 784)
    assert y.dtype == np.int64 and y.tolist() == written["train"][1].tolist()
    np.testing.assert_allclose(x, written["train"][0].reshape(6, 784) / 255.0, rtol=1e-6)
    assert 0.0 <= x.min() and x.max() <= 1.0
    (raw, _), _ = load_fashion_mnist(tmp_path / "fm", normalize=False)
    assert raw.dtype == np.uint8 and np.array_equal(raw, written["train"][0].reshape(6, 784))


def test_load_rejects_image_and_label_counts_that_differ(tmp_path):
    write_fake_dataset(tmp_path / "fm")
    write_idx(tmp_path / "fm" / "t10k-labels-idx1-ubyte.gz", np.zeros(3, dtype=np.uint8))
    with pytest.raises(ValueError, match="test split .* 4 images but labels of shape \\(3,\\)"):
        load_fashion_mnist(tmp_path / "fm")


def test_explicit_path_without_the_files_says_how_to_get_them(no_data_anywhere):
    write_fake_dataset(no_data_anywhere / "system" / "fashion-mnist")  # present elsewhere: not used
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist") as info:
        load_fashion_mnist(no_data_anywhere / "empty")
    assert str(no_data_anywhere / "empty") in str(info.value)


def test_lookup_order_is_denso_data_then_system_then_cache(no_data_anywhere):
    root = no_data_anywhere
    assert datasets.fashion_mnist_dir() is None
    write_fake_dataset(root / "cache" / "denso" / "fashion-mnist", seed=3)
    assert datasets.fashion_mnist_dir() == str(root / "cache" / "denso" / "fashion-mnist")
    write_fake_dataset(root / "system" / "fashion-mnist", seed=2)
    assert datasets.fashion_mnist_dir() == str(root / "system" / "fashion-mnist")
    written = write_fake_dataset(root / "data" / "fashion-mnist", seed=1)
    assert datasets.fashion_mnist_dir() == str(root / "data" / "fashion-mnist")
    (_, y), _ = load_fashion_mnist()
    assert y.tolist() == written["train"][1].tolist()
    assert datasets.search_dirs("fashion-mnist") == [str(root / "data" / "fashion-mnist"),
                                                     str(root / "system" / "fashion-mnist"),
                                                     str(root / "cache" / "denso" / "fashion-mnist")]
    assert datasets.mnist_dir() is None  # datasets do not see each other's directories


def test_an_incomplete_directory_is_skipped(no_data_anywhere):
    write_fake_dataset(no_data_anywhere / "data" / "fashion-mnist")
    os.unlink(no_data_anywhere / "data" / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz")
    write_fake_dataset(no_data_anywhere / "system" / "fashion-mnist")
    assert datasets.fashion_mnist_dir() == str(no_data_anywhere / "system" / "fashion-mnist")


def test_cache_dir_follows_xdg_and_defaults_to_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert datasets.cache_dir() == str(tmp_path / "xdg" / "denso")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert datasets.cache_dir() == str(tmp_path / "home" / ".cache" / "denso")


# The digests as their publishers list them: Zalando's fashion-mnist README and torchvision's MNIST
# resources (the same files as Yann LeCun's originals).
PUBLISHED_MD5 = {
    "fashion-mnist": {"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                      "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
                      "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
                      "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"},
    "mnist": {"train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
              "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
              "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
              "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"},
}


def test_published_checksums_are_md5_digests_of_the_four_files():
    assert sorted(datasets.DATASETS) == sorted(PUBLISHED_MD5)
    for name, spec in datasets.DATASETS.items():
        assert sorted(spec.md5) == sorted(s + ".gz" for pair in datasets.IDX_FILES.values() for s in pair)
        assert all(re.fullmatch("[0-9a-f]{32}", d) for d in spec.md5.values()), spec.md5  # what hexdigest() gives
        assert spec.md5 == PUBLISHED_MD5[name]


@pytest.fixture
def fake_server(no_data_anywhere, monkeypatch):
    """A file:// 'server' holding a small Fashion-MNIST; the registry points at it with its MD5s."""
    server = no_data_anywhere / "server"
    written = write_fake_dataset(server)
    md5 = {name: hashlib.md5((server / name).read_bytes()).hexdigest() for name in os.listdir(server)}
    spec = IdxDataset("fashion-mnist", "Fashion-MNIST", server.as_uri() + "/", md5, "dataset-fashion-mnist")
    monkeypatch.setitem(datasets.DATASETS, "fashion-mnist", spec)
    calls = []

    def urlopen(url):
        calls.append(url)
        import urllib.request
        return urllib.request.urlopen(url)

    monkeypatch.setattr(datasets.download, "_urlopen", urlopen)
    return server, written, calls


def test_missing_dataset_is_downloaded_into_the_cache_once(fake_server, capsys):
    server, written, calls = fake_server
    (x, y), (x_test, y_test) = load_fashion_mnist()
    cache = server.parent / "cache" / "denso" / "fashion-mnist"
    assert sorted(os.listdir(cache)) == sorted(os.listdir(server))  # no temporary files left over
    assert y.tolist() == written["train"][1].tolist() and x_test.shape == (4, 784)
    assert len(calls) == 4 and all(url.startswith("file://") for url in calls)
    assert "downloading" in capsys.readouterr().err
    load_fashion_mnist()
    assert len(calls) == 4  # found in the cache: not downloaded again
    assert datasets.fashion_mnist_dir() == str(cache)


def test_download_keeps_files_whose_checksum_matches(fake_server):
    server, _, calls = fake_server
    target = server.parent / "target"
    datasets.download_dataset("fashion-mnist", target, quiet=True)
    os.unlink(target / "t10k-images-idx3-ubyte.gz")
    datasets.download_dataset("fashion-mnist", target, quiet=True)
    assert len(calls) == 5 and calls[-1].endswith("t10k-images-idx3-ubyte.gz")


def test_checksum_mismatch_deletes_the_download_and_raises(fake_server, monkeypatch):
    server, _, _ = fake_server
    spec = datasets.DATASETS["fashion-mnist"]
    md5 = dict(spec.md5, **{"train-labels-idx1-ubyte.gz": "0" * 32})
    monkeypatch.setitem(datasets.DATASETS, "fashion-mnist", IdxDataset(spec.name, spec.title, spec.base_url, md5))
    with pytest.raises(ValueError, match="checksum mismatch .*train-labels-idx1-ubyte.gz.*expected MD5 0{32}"):
        load_fashion_mnist()
    cache = server.parent / "cache" / "denso" / "fashion-mnist"
    assert "train-labels-idx1-ubyte.gz" not in os.listdir(cache)
    assert not [name for name in os.listdir(cache) if name.endswith(".tmp")]
    assert datasets.fashion_mnist_dir() is None


def test_an_interrupted_download_leaves_no_partial_file(fake_server, monkeypatch):
    server, _, _ = fake_server

    class Broken(io.BytesIO):
        def read(self, size=-1):
            if self.tell():
                raise ConnectionResetError("connection reset by peer")
            return super().read(10)

    monkeypatch.setattr(datasets.download, "_urlopen", lambda url: Broken(b"x" * 100))
    with pytest.raises(FileNotFoundError, match="downloading them failed \\(connection reset by peer\\)"):
        load_fashion_mnist()
    assert os.listdir(server.parent / "cache" / "denso" / "fashion-mnist") == []


def test_offline_and_absent_is_a_clear_error(no_data_anywhere, monkeypatch):
    def offline(url):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(datasets.download, "_urlopen", offline)
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist()
    message = str(info.value)
    assert "Fashion-MNIST files not found" in message and "name resolution" in message
    assert "apt-get install dataset-fashion-mnist" in message and "$DENSO_DATA/fashion-mnist" in message
    with pytest.raises(FileNotFoundError, match="MNIST files not found.*ossci-datasets") as info:
        load_mnist()
    assert "apt-get" not in str(info.value)  # Debian has no MNIST package


def test_download_false_never_touches_the_network(no_data_anywhere):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_fashion_mnist(download=False)


def test_mnist_loads_from_denso_data(no_data_anywhere):
    written = write_fake_dataset(no_data_anywhere / "data" / "mnist", n_train=3, n_test=2)
    (x, y), (x_test, _) = load_mnist()
    assert x.shape == (3, 784) and x_test.shape == (2, 784) and y.tolist() == written["train"][1].tolist()


def test_unknown_idx_dataset_name():
    with pytest.raises(ValueError, match="unknown IDX dataset 'cifar'"):
        datasets.load_idx_dataset("cifar")


# ---- CSV ------------------------------------------------------------------------------------------
def csv_file(tmp_path, text, name="data.csv", mode="w"):
    path = tmp_path / name
    if mode == "w":
        path.write_text(text, encoding="utf-8", newline="")
    else:
        path.write_bytes(text)
    return path


def test_csv_with_header_gives_float32_features_and_int_labels(tmp_path):
    path = csv_file(tmp_path, "a,b,label\n1,2.5,0\n3,4,2\n5,-6e-1,1\n")
    (x, y), (x_test, y_test) = load_csv(path)
    assert x.dtype == np.float32 and x.tolist() == [[1, 2.5], [3, 4], [5, np.float32(-0.6)]]
    assert y.dtype == np.int64 and y.tolist() == [0, 2, 1]
    assert x_test.shape == (0, 2) and y_test.shape == (0,)
    table = read_table(path)
    assert table.feature_names == ["a", "b"] and table.target_name == "label"


def test_csv_target_by_name_index_and_negative_index(tmp_path):
    path = csv_file(tmp_path, "id,price,rooms\n1,100.5,3\n2,200.25,4\n")
    (x, y), _ = load_csv(path, target="price")
    assert y.dtype == np.float64 and y.tolist() == [100.5, 200.25] and x.tolist() == [[1, 3], [2, 4]]
    assert load_csv(path, target=0)[0][1].tolist() == [1, 2]
    assert load_csv(path, target="0")[0][1].tolist() == [1, 2]
    assert load_csv(path, target=-2)[0][1].tolist() == [100.5, 200.25]
    (x, y), _ = load_csv(path, target=None)
    assert y is None and x.shape == (2, 3)


def test_csv_without_header_names_columns_by_index(tmp_path):
    path = csv_file(tmp_path, "1,2,0\n3,4,1\n")
    table = read_table(path, target="2")
    assert table.feature_names == ["0", "1"] and table.y.tolist() == [0, 1]
    assert load_csv(path)[0][0].tolist() == [[1, 2], [3, 4]]


def test_csv_tolerates_quotes_spaces_bom_crlf_and_blank_lines(tmp_path):
    path = csv_file(tmp_path, "\ufeffa, b ,y\r\n\"1\", 2 ,0\r\n\r\n3,4,1\r\n".encode("utf-8"), mode="b")
    (x, y), _ = load_csv(path)
    assert x.tolist() == [[1, 2], [3, 4]] and y.tolist() == [0, 1]
    assert read_table(path).feature_names == ["a", "b"]


def _float_parse(path, target=-1):
    """What the loader gives when every field goes through the float64 parse (the int64 fast path turned off)."""
    from denso.datasets import tables
    original = tables._sniff_csv
    tables._sniff_csv = lambda *a: original(*a)[:2] + (False,)
    try:
        return read_table(path, target)
    finally:
        tables._sniff_csv = original


@pytest.mark.parametrize("target", [0, 2, -1, None])
def test_whole_number_tables_take_the_int_path_with_the_float_paths_values(tmp_path, target):
    rng = np.random.default_rng(3)
    data = rng.integers(-300, 300, (120, 5))
    data[7, 1] = 2**24 + 1   # float32 rounds it: the same way as from the float64 parse
    data[9, 3] = -(2**40) - 3
    path = tmp_path / "ints.csv"
    np.savetxt(path, data, fmt="%d", delimiter=",", header="a,b,c,d,e", comments="")
    fast, slow = read_table(path, target), _float_parse(path, target)
    assert fast.x.dtype == slow.x.dtype == np.float32
    np.testing.assert_array_equal(fast.x, slow.x)
    assert fast.feature_names == slow.feature_names and fast.target_name == slow.target_name
    if target is None:
        assert fast.y is None
    else:
        assert fast.y.dtype == slow.y.dtype == np.int64 and fast.y.tolist() == data[:, target].tolist()
    assert fast.x[7, 1 - (target == 0)] == np.float32(np.float64(2**24 + 1))


@pytest.mark.parametrize("late, y_dtype, y_value", [("2.5", np.float64, 2.5), ("9007199254740993", np.float64,
                                                    float(2**53)), ("99999999999999999999", np.float64, 1e20)])
def test_a_non_whole_or_huge_value_after_the_sniffed_rows_falls_back_to_floats(tmp_path, late, y_dtype, y_value):
    rows = [f"{i},{i % 3}" for i in range(datasets.tables.SNIFF_ROWS + 10)] + [f"1,{late}"]
    path = csv_file(tmp_path, "a,label\n" + "\n".join(rows) + "\n")
    table = read_table(path)
    assert table.y.dtype == y_dtype and table.y[-1] == y_value and table.y[:3].tolist() == [0, 1, 2]
    assert table.x[:, 0].tolist() == list(range(datasets.tables.SNIFF_ROWS + 10)) + [1]


def test_an_empty_field_after_the_sniffed_rows_is_still_named(tmp_path):
    rows = [f"{i},{i % 3}" for i in range(datasets.tables.SNIFF_ROWS + 10)] + ["4,"]
    path = csv_file(tmp_path, "a,label\n" + "\n".join(rows) + "\n")
    with pytest.raises(ValueError, match=rf"row {datasets.tables.SNIFF_ROWS + 12}, column 'label' is empty"):
        read_table(path)


def test_tsv_is_tab_separated(tmp_path):
    path = csv_file(tmp_path, "a\tb\ty\n1\t2\t1\n", name="data.tsv")
    assert load_csv(path)[0][0].tolist() == [[1, 2]]


@pytest.mark.parametrize("text, message", [
    ("a,color,y\n1,2,0\n3,red,1\n", "row 3, column 'color' holds 'red', which is not a number"),
    ("a,b,y\n1,2,0\n3,,1\n", "row 3, column 'b' is empty"),
    ("a,b,y\n1,2,0\n3,1\n", "row 3 has 2 fields, but the file has 3 columns"),
    ("a,b,y\n1,2,0\n3,4,5,6\n", "row 3 has 4 fields"),
    ("a,b,y\n1,nan,0\n", "row 2, column 'b' is nan; denso needs finite numbers"),
    ("a,b,y\n1,2,0\n1,-inf,0\n", "row 3, column 'b' is -inf"),
    ("", "is empty"),
    ("\n\n", "is empty"),
    ("a,b,y\n", "has a header but no data rows"),
    ("a,a,y\n1,2,3\n", "two columns named 'a'"),
    ("y\n1\n2\n", "no feature columns besides the target 'y'"),
])
def test_csv_errors_name_the_problem(tmp_path, text, message):
    path = csv_file(tmp_path, text)
    with pytest.raises(ValueError, match=message.replace("(", "\\(")) as info:
        load_csv(path)
    assert str(path) in str(info.value)


def test_csv_missing_target_column_lists_the_columns(tmp_path):
    path = csv_file(tmp_path, "a,b,label\n1,2,0\n")
    with pytest.raises(ValueError, match="no target column 'price'; its columns are 'a', 'b', 'label'"):
        load_csv(path, target="price")
    with pytest.raises(ValueError, match="no target column 3"):
        load_csv(path, target=3)


def test_csv_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file: .*missing.csv"):
        load_csv(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match="is a directory"):
        load_csv(tmp_path)
    with pytest.raises(ValueError, match="not a text CSV file"):
        load_csv(csv_file(tmp_path, b"\xff\xfe\x00\x81binary", name="bin.csv", mode="b"))
    with pytest.raises(ValueError, match="unsupported file type '.xlsx'"):
        load_csv(csv_file(tmp_path, "a,b\n1,2\n", name="data.xlsx"))


def numbered_csv(tmp_path, n=20):
    """Rows whose first feature is the row number, so splits can be traced."""
    rows = "\n".join(f"{i},{(i * 7) % 5},{i % 2}" for i in range(n))
    return csv_file(tmp_path, "id,f,y\n" + rows + "\n")


def test_test_split_is_a_seeded_partition_of_the_rows(tmp_path):
    path = numbered_csv(tmp_path)
    (x, y), (x_test, y_test) = load_csv(path, test_split=0.25, seed=1)
    assert x.shape == (15, 2) and x_test.shape == (5, 2)
    ids = sorted(x[:, 0].tolist() + x_test[:, 0].tolist())
    assert ids == list(range(20))
    assert (y_test == x_test[:, 0] % 2).all() and (y == x[:, 0] % 2).all()  # labels travel with their rows
    again = load_csv(path, test_split=0.25, seed=1)
    assert np.array_equal(again[1][0], x_test)
    other = load_csv(path, test_split=0.25, seed=2)
    assert not np.array_equal(other[1][0], x_test)
    (x_all, _), _ = load_csv(path)
    assert x_all[:, 0].tolist() == list(range(20))  # without a split the order is kept


@pytest.mark.parametrize("split", [-0.1, 1.0, 0.01, 0.99])
def test_bad_test_splits(tmp_path, split):
    with pytest.raises(ValueError, match="test_split"):
        load_csv(numbered_csv(tmp_path), test_split=split)


def test_standardisation_uses_training_rows_only(tmp_path):
    rng = np.random.default_rng(0)
    data = np.column_stack([rng.normal(1000, 50, 40), rng.normal(-3, 0.01, 40), np.full(40, 7.0), rng.integers(0, 2, 40)])
    data[:, 0][data[:, 0] > 1000] += 500  # skewed, so any test row leaking into the statistics changes them
    path = tmp_path / "s.csv"
    np.savetxt(path, data, delimiter=",", header="big,small,const,y", comments="", fmt="%.10g")
    (x, _), (x_test, _) = load_csv(path, test_split=0.25, seed=0, standardize=True)
    (raw, _), (raw_test, _) = load_csv(path, test_split=0.25, seed=0)
    np.testing.assert_allclose(x.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(x.std(axis=0)[:2], 1, rtol=1e-4)
    assert (x[:, 2] == 0).all() and (x_test[:, 2] == 0).all()  # a constant column becomes 0, not NaN
    mean, std = raw.astype(np.float64).mean(axis=0), raw.astype(np.float64).std(axis=0)
    np.testing.assert_allclose(x_test[:, :2], (raw_test[:, :2] - mean[:2]) / std[:2], rtol=1e-5, atol=1e-5)
    assert x.dtype == np.float32
    assert abs(x_test[:, 0].mean()) > 1e-3  # the test rows were not standardised with their own statistics


def test_standardizer_errors():
    with pytest.raises(ValueError, match="before fit"):
        Standardizer().transform(np.ones((2, 2)))
    with pytest.raises(ValueError, match="non-empty 2-D"):
        Standardizer().fit(np.ones(3))


# ---- .npz -----------------------------------------------------------------------------------------
def test_npz_with_x_and_y(tmp_path):
    x = np.arange(12, dtype=np.float64).reshape(6, 2)
    np.savez(tmp_path / "d.npz", X=x, y=np.array([0, 1, 0, 1, 0, 1.0]))
    (xt, yt), (xs, ys) = load_npz(tmp_path / "d.npz", test_split=0.5, seed=0)
    assert xt.dtype == np.float32 and yt.dtype == np.int64 and xt.shape == (3, 2) and xs.shape == (3, 2)
    np.savez(tmp_path / "t.npz", x=x, y=np.arange(6), x_test=x[:2], y_test=np.arange(2))
    (xt, yt), (xs, ys) = load_npz(tmp_path / "t.npz")
    assert xt.shape == (6, 2) and ys.tolist() == [0, 1]
    with pytest.raises(ValueError, match="own test set"):
        load_npz(tmp_path / "t.npz", test_split=0.5)


@pytest.mark.parametrize("arrays, message", [
    ({"x": np.ones((3, 2))}, "must hold arrays named 'x' \\(or 'X'\\) and 'y'; it holds \\['x'\\]"),
    ({"x": np.ones(3), "y": np.ones(3)}, "'x' must be 2-D"),
    ({"x": np.ones((3, 2)), "y": np.ones(4)}, "'y' must have one row per row of 'x' \\(3\\)"),
    ({"x": np.array([["a", "b"]]), "y": np.ones(1)}, "'x' must hold numbers"),
    ({"x": np.full((2, 2), np.nan), "y": np.ones(2)}, "'x' holds NaN"),
    ({"x": np.ones((2, 2)), "y": np.ones(2), "x_test": np.ones((1, 2))}, "both 'x_test' and 'y_test'"),
    ({"x": np.ones((2, 2)), "y": np.ones(2), "x_test": np.ones((1, 3)), "y_test": np.ones(1)}, "'x_test' has 3 columns"),
    ({"header": np.zeros(3, np.uint8), "params": np.zeros(3)}, "is a denso model file, not a data file"),
])
def test_npz_errors(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=message):
        load_npz(tmp_path / "bad.npz")


def test_npz_that_is_not_a_zip_or_holds_objects(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="not a readable .npz file"):
        load_npz(tmp_path / "junk.npz")
    np.savez(tmp_path / "obj.npz", x=np.array([[1, None]], dtype=object), y=np.ones(1))
    with pytest.raises(ValueError, match="not a readable .npz file"):
        load_npz(tmp_path / "obj.npz")


# ---- synthetic data and named datasets ----------------------------------------------------------------
def test_two_spirals_shapes_balance_and_determinism():
    x, y = synthetic.two_spirals(301, seed=4)
    assert x.shape == (301, 2) and x.dtype == np.float32 and y.dtype == np.int64
    assert (y == 0).sum() == 151 and (y == 1).sum() == 150
    assert np.abs(x).max() < 1.5
    x2, y2 = synthetic.two_spirals(301, seed=4)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    assert not np.array_equal(x, synthetic.two_spirals(301, seed=5)[0])


def test_two_spirals_need_a_nonlinear_model():
    x, y = synthetic.two_spirals(600, seed=0)
    x64 = x.astype(np.float64)
    d = ((x64[:, None, :] - x64[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    nearest_neighbour = (y[d.argmin(axis=1)] == y).mean()
    features = np.column_stack([x64, np.ones(len(x))])
    w = np.linalg.lstsq(features, 2.0 * y - 1, rcond=None)[0]
    linear = ((features @ w > 0) == (y == 1)).mean()
    assert nearest_neighbour > 0.9 and linear < 0.7


def test_two_spirals_without_noise_are_point_symmetric():
    x, y = synthetic.two_spirals(2000, noise=0.0, seed=0)
    radius = np.hypot(x[:, 0], x[:, 1])
    angle = np.arctan2(x[:, 1], x[:, 0])
    theta = radius * (np.pi / 2 + 2 * np.pi * 1.75)  # undo the scaling: r = θ on each arm
    on_arm = np.cos(angle - theta - np.pi * y)
    np.testing.assert_allclose(on_arm, 1.0, atol=1e-4)


@pytest.mark.parametrize("name", sorted(synthetic.FUNCTIONS))
def test_noisy_function_matches_its_function_plus_noise(name):
    f = synthetic.FUNCTIONS[name][0]
    x, y = synthetic.noisy_function(name, 4000, noise=0.0, seed=1)
    assert x.shape == y.shape == (4000, 1) and x.dtype == y.dtype == np.float32
    np.testing.assert_allclose(y, f(x.astype(np.float64)), atol=1e-5)
    assert -1 <= x.min() and x.max() <= 1
    x, y = synthetic.noisy_function(name, 4000, noise=0.2, seed=1)
    residual = y - f(x.astype(np.float64))
    assert abs(residual.std() - 0.2) < 0.01 and abs(residual.mean()) < 0.015


def test_noisy_function_accepts_callables_and_checks_arguments():
    x, y = synthetic.noisy_function(lambda t: 3 * t, 10, noise=0.0, low=2, high=3)
    assert (x >= 2).all() and np.allclose(y, 3 * x)
    with pytest.raises(ValueError, match="unknown function 'tan'"):
        synthetic.noisy_function("tan")
    with pytest.raises(ValueError, match="`high` must be > `low`"):
        synthetic.noisy_function("sine", low=1, high=1)
    with pytest.raises(ValueError, match="shaped like its input"):
        synthetic.noisy_function(lambda t: t.ravel(), 5)
    with pytest.raises(ValueError, match="noise"):
        synthetic.two_spirals(10, noise=-1)


def test_named_synthetic_datasets_are_fixed():
    (x, y), (x_test, y_test) = load_dataset("spirals")
    assert x.shape == (1500, 2) and x_test.shape == (500, 2) and set(y_test.tolist()) == {0, 1}
    assert np.array_equal(load_dataset("spirals")[1][0], x_test)
    (x, y), (x_test, y_test) = load_dataset("sine")
    assert x.shape == y.shape == (800, 1) and x_test.shape == (200, 1)
    with pytest.raises(ValueError, match="unknown dataset 'cifar10'"):
        load_dataset("cifar10")


def test_split_rows_without_test_keeps_order():
    train, test = split_rows(5, 0.0)
    assert train.tolist() == [0, 1, 2, 3, 4] and test.size == 0

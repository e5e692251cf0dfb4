"""The CSV loader's two float readers (pandas' C reader for big files when pandas is installed, np.loadtxt
otherwise) accept the same files with the same values and refuse bad ones with the same errors."""
import numpy as np
import pytest

from denso.datasets import read_table, tables

pd = pytest.importorskip("pandas", reason="pandas is not installed (the loader then always uses np.loadtxt)")

LATE = "\n".join(f"{i},{i % 3}" for i in range(tables.SNIFF_ROWS + 10))
GOOD = {
    "header": "a,b,label\n1,2.5,0\n3,4,2\n5,-6e-1,1\n",
    "no header": "1,2,0\n3,4,1\n",
    "quotes, spaces, crlf, blank lines": "a, b ,y\r\n\"1\", 2 ,0\r\n\r\n3,4,1\r\n",
    "bom": "\ufeffa,b,y\n1,2,0\n",
    "whole numbers": "a,b,y\n1,-300,0\n16777217,2,1\n-1099511627779,5,0\n",
    "late fraction": "a,label\n" + LATE + "\n1,2.5\n",
    "late huge": "a,label\n" + LATE + "\n1,99999999999999999999\n",
    "fractions": "x1,x2,y\n0.1234,-1.5e-3,2.75\n1e5,3,-0.5\n",
}
BAD = {
    "not a number": ("a,color,y\n1,2,0\n3,red,1\n", "row 3, column 'color' holds 'red'"),
    "empty field": ("a,b,y\n1,2,0\n3,,1\n", "row 3, column 'b' is empty"),
    "short row": ("a,b,y\n1,2,0\n3,1\n", "row 3 has 2 fields, but the file has 3 columns"),
    "long row": ("a,b,y\n1,2,0\n3,4,5,6\n", "row 3 has 4 fields"),
    "nan": ("a,b,y\n1,nan,0\n", "row 2, column 'b' is nan; denso needs finite numbers"),
    "inf": ("a,b,y\n1,2,0\n1,-inf,0\n", "row 3, column 'b' is -inf"),
}


def read_with(monkeypatch, path, reader, target=-1):
    monkeypatch.setattr(tables, "PANDAS_MIN_BYTES", 0 if reader == "pandas" else 1 << 62)
    return read_table(path, target)


@pytest.mark.parametrize("name", sorted(GOOD))
def test_both_readers_give_the_same_table(tmp_path, monkeypatch, name):
    path = tmp_path / "t.csv"
    path.write_text(GOOD[name], encoding="utf-8")
    ours, theirs = read_with(monkeypatch, path, "pandas"), read_with(monkeypatch, path, "loadtxt")
    assert ours.x.dtype == theirs.x.dtype == np.float32
    np.testing.assert_array_equal(ours.x, theirs.x)
    assert ours.y.dtype == theirs.y.dtype
    np.testing.assert_array_equal(ours.y, theirs.y)
    assert ours.feature_names == theirs.feature_names and ours.target_name == theirs.target_name


@pytest.mark.parametrize("name", sorted(BAD))
@pytest.mark.parametrize("reader", ["pandas", "loadtxt"])
def test_both_readers_refuse_bad_files_with_the_same_error(tmp_path, monkeypatch, name, reader):
    text, message = BAD[name]
    path = tmp_path / "t.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        read_with(monkeypatch, path, reader)


def test_big_files_go_to_pandas_and_small_ones_do_not(tmp_path, monkeypatch):
    calls = []
    real = pd.read_csv
    monkeypatch.setattr(pd, "read_csv", lambda *a, **k: calls.append(k["dtype"]) or real(*a, **k))
    path = tmp_path / "t.csv"
    path.write_text("a,b,y\n1,2.5,0\n3,4,1\n", encoding="utf-8")
    read_table(path)
    assert calls == []  # below PANDAS_MIN_BYTES: np.loadtxt only
    monkeypatch.setattr(tables, "PANDAS_MIN_BYTES", path.stat().st_size)
    assert read_table(path).x.tolist() == [[1, 2.5], [3, 4]]
    assert calls == [np.float64]
    path.write_text("a,b,y\n1,2,0\n3,4,1\n", encoding="utf-8")  # whole numbers: np.loadtxt's int64 parse
    assert read_table(path).x.tolist() == [[1, 2], [3, 4]] and calls == [np.float64]

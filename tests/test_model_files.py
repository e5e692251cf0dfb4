"""Hostile and broken model files: load_model rejects each one cheaply with a ValueError naming the file,
the CLI reports it in one line, and save keeps the file's mode, follows symbolic links and cleans up."""
import io
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
import tracemalloc
import zipfile

import numpy as np
import pytest

import denso
from denso import cli

PARAMS = 8 * 16 + 16 + 16 * 3 + 3  # the test model's parameter count: 195


def _model(compiled=True, dtype="float32"):
    model = denso.Sequential([denso.Dense(16, activation="relu"), denso.Dense(3)], input_dim=8, seed=0, dtype=dtype)
    if compiled:
        model.compile(denso.optim.Adam(lr=0.01), "categorical_crossentropy", ["accuracy"])
        x = np.random.default_rng(0).normal(size=(32, 8))
        model.fit(x, np.arange(32) % 3, epochs=1, batch_size=8, verbose=0)
    return model


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """(header dict, {entry: array}) of a saved, compiled and trained model."""
    path = tmp_path_factory.mktemp("saved") / "m.denso"
    _model().save(path)
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    return json.loads(bytes(arrays.pop("header")).decode()), arrays


def _npy(array) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(array), allow_pickle=False)
    return buf.getvalue()


def _write(path, header, arrays, compression=zipfile.ZIP_STORED):
    """A model file: `header` (a dict, or JSON text, or raw bytes) and `arrays` (arrays or raw .npy bytes)."""
    if isinstance(header, dict):
        header = json.dumps(header)
    if isinstance(header, str):
        header = header.encode()
    with zipfile.ZipFile(path, "w", compression) as z:
        z.writestr("header.npy", _npy(np.frombuffer(header, dtype=np.uint8)))
        for name, data in arrays.items():
            z.writestr(name + ".npy", data if isinstance(data, bytes) else _npy(data))
    return path


def _variant(saved, path, header=None, **arrays):
    """The saved model's file with `header` and some arrays replaced."""
    base_header, base_arrays = saved
    return _write(path, base_header if header is None else header, {**base_arrays, **arrays})


def _header(saved, **changes):
    header = json.loads(json.dumps(saved[0]))
    for dotted, value in changes.items():
        node, *keys = [header, *dotted.split("__")]
        for key in keys[:-1]:
            node = node[int(key) if isinstance(node, list) else key]
        node[int(keys[-1]) if isinstance(node, list) else keys[-1]] = value
    return header


def _patch_entry(path, name, local_offset, central_offset, value, size=2):
    """Overwrite a field of entry `name` in its local header and its central directory record."""
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(name)
        local, central_dir = info.header_offset, z.start_dir
    data = bytearray(path.read_bytes())
    data[local + local_offset:local + local_offset + size] = value.to_bytes(size, "little")
    central = central_dir
    while data[central + 46:central + 46 + len(name)] != name.encode():
        central = data.index(b"PK\x01\x02", central + 4)
    data[central + central_offset:central + central_offset + size] = value.to_bytes(size, "little")
    path.write_bytes(bytes(data))


def _load_peak(path, match):
    """load_model(path) raises ValueError matching `match` and naming the file; returns the peak of memory
    Python and numpy allocated meanwhile (tracemalloc sees numpy's array buffers)."""
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=match) as info:
            denso.load_model(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(path) in str(info.value)
    return peak


def _deflated_zeros(z, name, header_fields, nbytes):
    """Entry `name` of open ZipFile `z`: a .npy header, then `nbytes` zero bytes deflated in 1 MiB chunks."""
    with z.open(name, "w", force_zip64=True) as f:
        np.lib.format.write_array_header_1_0(f, header_fields)
        chunk = bytes(1 << 20)
        for _ in range(nbytes >> 20):
            f.write(chunk)


# ---- the zip bomb and huge declared sizes (#10 item 10) ---------------------------------------------
def test_a_zip_bomb_is_rejected_without_inflating_it(tmp_path, saved):
    """A model whose architecture matches a 128 MiB all-zero params entry stored in 0.6 MB: a bomb."""
    header = _header(saved, model__input_dim=4096, compile=None)
    header["model"]["layers"] = [{**header["model"]["layers"][1], "units": 8192, "use_bias": False}]
    path = tmp_path / "bomb.denso"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("header.npy", _npy(np.frombuffer(json.dumps(header).encode(), np.uint8)))
        _deflated_zeros(z, "params.npy", {"descr": "<f4", "fortran_order": False, "shape": (4096 * 8192,)}, 128 << 20)
    assert path.stat().st_size < 1 << 20
    peak = _load_peak(path, r"is not a readable denso model file: entry 'params.npy' declares 134,217,856 bytes "
                            r"compressed into [0-9,]+ \(more than 100 times\): a zip bomb")
    assert peak < 4 << 20  # nothing near the 128 MiB it inflates to, nor the model it declares


def test_a_forged_entry_size_is_not_trusted(tmp_path, saved):
    """The central directory claims 4 GB for a stored params entry of 780 bytes."""
    path = _variant(saved, tmp_path / "forged.denso")
    _patch_entry(path, "params.npy", 22, 24, 4_000_000_000, size=4)
    _load_peak(path, r"stored entry 'params.npy' declares 4,000,000,000 bytes but occupies 908")
    path = _variant(saved, tmp_path / "forged2.denso")
    _patch_entry(path, "params.npy", 18, 20, 4_000_000_000, size=4)
    _patch_entry(path, "params.npy", 22, 24, 4_000_000_000, size=4)
    _load_peak(path, r"entry 'params.npy' declares 4,000,000,000 bytes at offset [0-9,]+, beyond the end of the "
                     r"[0-9,]+-byte file")


def test_an_architecture_the_weights_do_not_back_is_rejected_before_it_is_built(tmp_path, saved):
    """A header declaring a 4000 -> 20000 layer over the 195 stored weights: nothing is allocated for it."""
    path = _variant(saved, tmp_path / "big.denso", _header(saved, model__input_dim=4000, model__layers__0__units=20000))
    peak = _load_peak(path, r"entry 'params.npy' has shape \(195,\); expected \(80080003,\): the architecture in its "
                            r"header has 80,080,003 parameters")
    assert peak < 4 << 20


def test_params_of_the_wrong_shape_say_which_shape(tmp_path, saved):
    path = _variant(saved, tmp_path / "row.denso", params=saved[1]["params"].reshape(1, PARAMS))
    _load_peak(path, r"entry 'params.npy' has shape \(1, 195\); expected \(195,\)")


def test_a_header_entry_beyond_the_header_limit_is_rejected_unread(tmp_path, saved):
    path = _variant(saved, tmp_path / "fat.denso", json.dumps(saved[0]) + " " * (2 << 20))
    assert _load_peak(path, r"its header entry declares 2,[0-9,]+ bytes; a model header holds at most 1,048,576") \
        < 1 << 20


def test_an_optimizer_state_array_larger_than_the_parameters_is_rejected(tmp_path, saved):
    path = _variant(saved, tmp_path / "state.denso", state_2=np.zeros(PARAMS * 1000, np.float32))
    _load_peak(path, r"entry 'state_2.npy' has shape \(195000,\); expected \(195,\)")


def test_entries_the_format_does_not_have_are_rejected(tmp_path, saved):
    path = _variant(saved, tmp_path / "extra.denso", junk=np.zeros(3))
    _load_peak(path, r"unexpected entry 'junk.npy' \(a model file holds header.npy, params.npy and state_<n>.npy\)")
    path = _variant(saved, tmp_path / "unused.denso", state_9=np.zeros(PARAMS, np.float32))
    _load_peak(path, r"entries \['state_9'\] are not referred to by its header")


# ---- hostile headers ----------------------------------------------------------------------------------
HEADERS = [  # (id, header text or a function of the saved header, message)
    ("list", "[1, 2, 3]", r"its JSON header must be an object, got list \[1, 2, 3\]"),
    ("string", '"denso.model"', r"its JSON header must be an object, got str 'denso.model'"),
    ("deep", "[" * 100_000 + "]" * 100_000, r"its JSON header nests 100000 levels deep; at most 32 are allowed"),
    ("deep-object", '{"a":' * 5000 + "1" + "}" * 5000, r"nests 5000 levels deep"),
    ("not-json", "{'format': 1}", r"its header is not valid JSON"),
    ("nan", lambda h: json.dumps(h).replace('"epoch": 1', '"epoch": NaN'), r"NaN is not a number a model file may hold"),
    ("overflow-float", lambda h: json.dumps(h).replace('"epoch": 1', '"epoch": 1e999'), r"number 1e999 is out of range"),
    ("huge-int-text", lambda h: json.dumps(h).replace('"epoch": 1', '"epoch": ' + "9" * 5000),
     r"its header is not valid JSON \(Exceeds the limit"),
    ("huge-epoch", lambda h: json.dumps({**h, "epoch": 10 ** 30}), r"'epoch' must be a non-negative integer"),
    ("float-epoch", lambda h: json.dumps({**h, "epoch": 1e300}), r"'epoch' must be a non-negative integer, got float"),
    ("huge-input-dim", lambda h: json.dumps(_header((h, None), model__input_dim=10 ** 300)),
     r"its header's architecture has more than 1,099,511,627,776 parameters"),
    ("float-units", lambda h: json.dumps(_header((h, None), model__layers__0__units=1e308)),
     r"its header's layers\[0\] is invalid: `units` must be an integer, got float 1e\+308"),
    ("negative-units", lambda h: json.dumps(_header((h, None), model__layers__0__units=-5)),
     r"its header's layers\[0\] is invalid: `units` must be an integer >= 1"),
    ("unknown-layer-key", lambda h: json.dumps(_header((h, None), model__layers__0__bogus=1)),
     r"its header's layers\[0\] is invalid: .*bogus"),
    ("layers-not-list", lambda h: json.dumps(_header((h, None), model__layers="Dense")),
     r"its header's model 'layers' must be a list, got str 'Dense'"),
    ("layer-not-object", lambda h: json.dumps(_header((h, None), model__layers__0=[16])),
     r"its header's layers\[0\] must be an object, got list \[16\]"),
    ("dtype", lambda h: json.dumps(_header((h, None), model__dtype="complex128")),
     r"model dtype must be one of \('float32', 'float64'\), got 'complex128'"),
    ("model-missing", lambda h: json.dumps({k: v for k, v in h.items() if k != "model"}),
     r"its header's 'model' must be an object, got NoneType None"),
    ("compile-list", lambda h: json.dumps({**h, "compile": [1]}), r"'compile' must be an object or null, got list"),
    ("optimizer-config", lambda h: json.dumps(_header((h, None), compile__optimizer__lr="fast")),
     r"its header's compile is invalid: .*lr"),
    ("state-reference", lambda h: json.dumps(_header((h, None), compile__optimizer_state__state__0__exp_avg={
        "__array__": "params"})), r"its optimizer state refers to 'params', which is not one of its state entries"),
    ("format", lambda h: json.dumps({**h, "format": ["denso.model"]}), r"is not a denso model file \(format \["),
    ("version", lambda h: json.dumps({**h, "version": 1e300}), r"has denso model format version 1e\+300"),
]


@pytest.mark.parametrize("text, message", [h[1:] for h in HEADERS], ids=[h[0] for h in HEADERS])
def test_hostile_headers_are_value_errors(tmp_path, saved, text, message):
    path = _variant(saved, tmp_path / "h.denso", text(saved[0]) if callable(text) else text)
    assert _load_peak(path, message) < 4 << 20


# ---- the archive itself -------------------------------------------------------------------------------
def test_an_unknown_compression_method_is_a_value_error(tmp_path, saved):
    path = _variant(saved, tmp_path / "method.denso")
    _patch_entry(path, "params.npy", 8, 10, 99)
    _load_peak(path, r"entry 'params.npy' uses compression method 99 \(unknown\); denso reads stored or deflated")
    path = tmp_path / "bzip2.denso"
    _write(path, saved[0], saved[1], compression=zipfile.ZIP_BZIP2)
    _load_peak(path, r"entry 'header.npy' uses compression method 12 \(bzip2\)")


def test_an_encrypted_entry_is_a_value_error(tmp_path, saved):
    path = _variant(saved, tmp_path / "secret.denso")
    _patch_entry(path, "params.npy", 6, 8, 0x1)
    _load_peak(path, r"entry 'params.npy' is encrypted; denso model files are not")


def test_an_npy_file_named_npz_is_a_value_error(tmp_path):
    path = tmp_path / "weights.npz"
    np.save(path.with_suffix(".npy"), np.zeros(PARAMS, np.float32))
    os.replace(path.with_suffix(".npy"), path)
    _load_peak(path, r"it holds a single .npy array, not an .npz archive of a header and arrays")


def test_a_compressed_model_file_still_loads(tmp_path, saved):
    """np.savez_compressed's deflated entries are read too (and byte-swapped weights are converted)."""
    path = tmp_path / "deflated.denso"
    _write(path, saved[0], {**saved[1], "params": saved[1]["params"].astype(">f4")}, compression=zipfile.ZIP_DEFLATED)
    loaded = denso.load_model(path)
    np.testing.assert_array_equal(loaded.flat_parameter.data, saved[1]["params"])
    assert loaded.flat_parameter.data.dtype == np.float32 and loaded.flat_parameter.data.dtype.isnative
    assert loaded.optimizer.state[0]["step"] == 4


# ---- the values of the weights (#10 item 5d) ----------------------------------------------------------
def _with_nan(values, where=7):
    values = values.copy()
    values[where] = np.nan
    return values


@pytest.mark.parametrize("entry, values, message", [
    ("params", lambda p: _with_nan(p), r"entry 'params.npy' holds 1 non-finite values \(NaN or infinity\) of 195"),
    ("params", lambda p: np.where(np.arange(p.size) < 3, np.inf, p).astype(np.float32), r"holds 3 non-finite"),
    ("params", lambda p: p.astype(np.complex128) * 1j, r"entry 'params.npy' holds complex128 values; expected float32 "
                                                        r"\(the model's dtype\)"),
    ("params", lambda p: p.astype(str)[:PARAMS], r"entry 'params.npy' holds <U\d+ values; expected float32"),
    ("params", lambda p: np.round(p).astype(np.int32), r"entry 'params.npy' holds int32 values; expected float32"),
    ("params", lambda p: p.astype(np.float64), r"entry 'params.npy' holds float64 values; expected float32"),
    ("state_2", lambda s: _with_nan(s, 0), r"entry 'state_2.npy' holds 1 non-finite values"),
    ("state_1", lambda s: s.astype(np.float16), r"entry 'state_1.npy' holds float16 values; expected float32"),
])
def test_weights_and_optimizer_state_must_be_finite_numbers_of_the_models_dtype(tmp_path, saved, entry, values,
                                                                                message):
    path = _variant(saved, tmp_path / "w.denso", **{entry: values(saved[1][entry])})
    _load_peak(path, message)


def test_object_arrays_are_refused_without_unpickling(tmp_path, saved):
    raw = bytearray(_npy(np.zeros(PARAMS, np.float32)))
    header = "{'descr': '|O', 'fortran_order': False, 'shape': (195,), }"
    raw[10:128] = (header + " " * (117 - len(header)) + "\n").encode()
    path = _variant(saved, tmp_path / "obj.denso", params=bytes(raw))
    _load_peak(path, r"entry 'params.npy' (holds Python objects|is not a readable .npy array)")


def test_saved_models_of_both_dtypes_still_load(tmp_path):
    for dtype in ("float32", "float64"):
        model = _model(dtype=dtype)
        model.save(tmp_path / f"{dtype}.denso")
        loaded = denso.load_model(tmp_path / f"{dtype}.denso")
        assert loaded.dtype == dtype
        np.testing.assert_array_equal(loaded.flat_parameter.data, model.flat_parameter.data)
    _model(compiled=False).save(tmp_path / "bare.denso")
    assert denso.load_model(tmp_path / "bare.denso").optimizer is None


# ---- the command line (#10 item 12) -------------------------------------------------------------------
@pytest.fixture
def hostile_files(tmp_path, saved):
    """One file of each kind load_model rejects."""
    files = {
        "huge-layer": _variant(saved, tmp_path / "huge.denso", _header(saved, model__input_dim=4000,
                                                                       model__layers__0__units=20000)),
        "list-header": _variant(saved, tmp_path / "list.denso", "[1, 2]"),
        "string-header": _variant(saved, tmp_path / "string.denso", '"x"'),
        "deep-header": _variant(saved, tmp_path / "deep.denso", "[" * 50_000 + "]" * 50_000),
        "overflow": _variant(saved, tmp_path / "overflow.denso", json.dumps(saved[0]).replace('"epoch": 1',
                                                                                              '"epoch": 1e999')),
        "nan": _variant(saved, tmp_path / "nan.denso", params=_with_nan(saved[1]["params"])),
        "complex": _variant(saved, tmp_path / "complex.denso", params=saved[1]["params"].astype(np.complex64)),
        "method": _variant(saved, tmp_path / "method.denso"),
        "encrypted": _variant(saved, tmp_path / "encrypted.denso"),
        "npy": tmp_path / "array.npz",
    }
    _patch_entry(files["method"], "params.npy", 8, 10, 99)
    _patch_entry(files["encrypted"], "header.npy", 6, 8, 0x1)
    with open(files["npy"], "wb") as f:
        np.save(f, np.zeros(PARAMS, np.float32))
    return files


@pytest.mark.parametrize("command", ["summary", "evaluate", "predict"])
def test_the_cli_reports_each_hostile_model_file_in_one_line(hostile_files, command, capsys, monkeypatch):
    monkeypatch.delenv("DENSO_TRACEBACK", raising=False)
    for kind, path in hostile_files.items():
        args = [command, str(path)] + ([] if command == "summary" else ["spirals"])
        assert cli.main(args) == 1, kind
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1, (kind, err)
        assert re.match(rf"denso: error: '{re.escape(str(path))}' is not a (readable )?denso model file", err), (kind, err)


def test_the_cli_reports_an_unexpected_failure_to_read_a_model_in_one_line(tmp_path, capsys, monkeypatch):
    """Whatever load_model raises on a bad file (here a RecursionError it should never raise) is one line."""
    monkeypatch.delenv("DENSO_TRACEBACK", raising=False)

    def broken(path):
        raise RecursionError("maximum recursion depth exceeded")
    monkeypatch.setattr(cli.saved_model, "load_model", broken)
    assert cli.main(["summary", str(tmp_path / "m.denso")]) == 1
    assert capsys.readouterr().err == (f"denso: error: cannot read the model file '{tmp_path / 'm.denso'}': "
                                       f"RecursionError: maximum recursion depth exceeded\n")


# ---- save (#10 item 13) -------------------------------------------------------------------------------
def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_save_removes_the_temporary_files_killed_saves_left_behind(tmp_path):
    dead = _dead_pid()
    stale = [tmp_path / f".m.denso.denso-{dead}.0badf00d.tmp",           # its process is gone
             tmp_path / f".m.denso.denso-{os.getpid()}.00c0ffee.tmp",   # alive, but not written for an hour
             tmp_path / ".denso-ab12_xyz.tmp"]                           # an old denso's mkstemp name, an hour old
    kept = [tmp_path / f".m.denso.denso-{os.getpid()}.12345678.tmp",    # a save in progress
            tmp_path / f".other.denso.denso-{dead}.0badf00d.tmp",       # another file's
            tmp_path / ".denso-cd34_xyz.tmp",                            # an old denso's, recent
            tmp_path / "notes.txt"]
    for p in stale + kept:
        p.write_bytes(b"partial")
    hour_ago = time.time() - 3600
    for p in stale[1:]:
        os.utime(p, (hour_ago, hour_ago))
    _model(compiled=False).save(tmp_path / "m.denso")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["m.denso"] + [p.name for p in kept])


def test_a_save_killed_mid_write_is_cleaned_up_by_the_next_save(tmp_path):
    """SIGKILL during the write leaves the old file and one temporary file; the next save removes it."""
    path = tmp_path / "m.denso"
    model = _model(compiled=False)
    model.save(path)
    before = path.read_bytes()
    script = ("import os, signal, numpy as np, denso\n"
              "model = denso.Sequential([denso.Dense(3)], input_dim=2, seed=1)\n"
              "np.savez = lambda f, **arrays: (f.write(b'PK half'), f.flush(), os.kill(os.getpid(), signal.SIGKILL))\n"
              f"model.save({str(path)!r})\n")
    done = subprocess.run([sys.executable, "-c", script], env={**os.environ, "SKBUILD_EDITABLE_VERBOSE": "0"})
    assert done.returncode == -signal.SIGKILL
    left = [p.name for p in tmp_path.iterdir() if p.name != "m.denso"]
    assert len(left) == 1 and re.fullmatch(r"\.m\.denso\.denso-\d+\.[0-9a-f]{8}\.tmp", left[0]), left
    assert path.read_bytes() == before
    model.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["m.denso"]


def test_save_keeps_the_mode_of_the_file_it_replaces(tmp_path):
    path = tmp_path / "private.denso"
    path.write_bytes(b"old")
    os.chmod(path, 0o600)
    _model(compiled=False).save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    os.chmod(path, 0o640)
    _model(compiled=False).save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    mask = os.umask(0o027)
    try:
        _model(compiled=False).save(tmp_path / "new.denso")
    finally:
        os.umask(mask)
    assert stat.S_IMODE((tmp_path / "new.denso").stat().st_mode) == 0o640  # 0666 & ~umask, as before


def test_save_through_a_symbolic_link_writes_the_file_it_points_to(tmp_path):
    (tmp_path / "models").mkdir()
    target = tmp_path / "models" / "v1.denso"
    _model(compiled=False).save(target)
    link = tmp_path / "current.denso"
    link.symlink_to(target)
    model = _model()
    model.save(link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    np.testing.assert_array_equal(denso.load_model(target).flat_parameter.data, model.flat_parameter.data)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["current.denso", "models"]
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["v1.denso"]


def test_save_errors_name_the_path_the_user_gave(tmp_path):
    model = _model(compiled=False)
    missing = tmp_path / "no" / "such" / "m.denso"
    with pytest.raises(FileNotFoundError, match=re.escape(f"cannot save the model to {str(missing)!r}: directory")):
        model.save(missing)
    with pytest.raises(IsADirectoryError, match=re.escape(f"cannot save the model to {str(tmp_path)!r}: it is a "
                                                          f"directory")):
        model.save(tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes whatever the mode")
def test_save_into_a_read_only_directory_names_the_path(tmp_path):
    directory = tmp_path / "ro"
    directory.mkdir()
    os.chmod(directory, 0o555)
    try:
        with pytest.raises(PermissionError, match=re.escape(f"cannot save the model to "
                                                            f"{str(directory / 'm.denso')!r}: Permission denied")):
            _model(compiled=False).save(directory / "m.denso")
    finally:
        os.chmod(directory, 0o755)


def test_save_failing_mid_write_names_the_path_and_leaves_nothing(tmp_path, monkeypatch):
    path = tmp_path / "m.denso"

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(np, "savez", disk_full)
    with pytest.raises(OSError, match=re.escape(f"cannot save the model to {str(path)!r}: No space left on device")):
        _model(compiled=False).save(path)
    assert list(tmp_path.iterdir()) == []

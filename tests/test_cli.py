"""The `denso` command line, as a real process (python -m denso) and in-process (denso.cli.main)."""
import gzip
import os
import re
import subprocess
import sys
import types

import numpy as np
import pytest

import denso
from denso import cli, datasets
from denso.datasets import write_idx


@pytest.fixture
def no_fashion_mnist(tmp_path, monkeypatch):
    """An environment where Fashion-MNIST is nowhere to be found; returns it for subprocesses."""
    env = {"DENSO_SYSTEM_DATASETS": str(tmp_path / "no-system-data"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DENSO_DATA", raising=False)
    return env


def run(*args, cwd, env=None, timeout=120):
    """`python -m denso ARGS` in a fresh process; the editable install's rebuild notes are silenced."""
    full_env = {**os.environ, "SKBUILD_EDITABLE_VERBOSE": "0", **(env or {})}
    return subprocess.run([sys.executable, "-m", "denso", *map(str, args)], cwd=cwd, env=full_env, text=True,
                          capture_output=True, timeout=timeout)


def table_row(stdout: str, label: str) -> list:
    """The numbers of one row of a metrics table, as printed."""
    match = re.search(rf"^{label}\s+(.*)$", stdout, re.MULTILINE)
    assert match, f"no {label!r} row in:\n{stdout}"
    return match.group(1).split()


def error_line(stderr: str) -> str:
    """The single line a failed command prints (and proof there is only one, with no traceback)."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


# ---- the default job, end to end ----------------------------------------------------------------------
def test_default_train_falls_back_to_spirals_and_evaluate_reproduces_its_metrics(tmp_path, no_fashion_mnist):
    done = run("train", "--plot", "curves.png", cwd=tmp_path, env=no_fashion_mnist)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Fashion-MNIST is not installed" in out and "two-spirals" in out and "apt-get install" in out
    assert str(tmp_path / "no-system-data" / "fashion-mnist") in out  # says where it looked
    assert "2-32-32-2 (relu)" in out and "60 epochs" in out
    assert len(re.findall(r"^Epoch \d+/60 ", out, re.MULTILINE)) == 60  # the progress, one line per epoch (no TTY)
    test_loss, test_accuracy = table_row(out, "test")
    assert float(test_accuracy) >= 0.95
    assert table_row(out, "train") and table_row(out, "validation")
    assert "model written to denso-spirals.npz" in out and "plot written to curves.png" in out
    assert (tmp_path / "curves.png").read_bytes().startswith(b"\x89PNG")

    again = run("evaluate", "denso-spirals.npz", "spirals", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert table_row(again.stdout, "test") == [test_loss, test_accuracy]
    model = denso.load_model(tmp_path / "denso-spirals.npz")
    (_, _), (x_test, y_test) = datasets.load_dataset("spirals")
    logs = model.evaluate(x_test, y_test)
    assert abs(logs["loss"] - float(test_loss)) <= 5e-5 and abs(logs["accuracy"] - float(test_accuracy)) <= 5e-5


def write_fake_fashion_mnist(directory, n_train=300, n_test=60):
    """A tiny stand-in for Fashion-MNIST: class k images are bright in band k, so they can be learned."""
    rng = np.random.default_rng(0)
    os.makedirs(directory)
    for split, n in (("train", n_train), ("test", n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
        for i, k in enumerate(labels):
            images[i, 2 * k:2 * k + 3] = 250
        images_file, labels_file = datasets.IDX_FILES[split]
        write_idx(os.path.join(directory, images_file + ".gz"), images)
        write_idx(os.path.join(directory, labels_file), labels)


def test_default_train_uses_fashion_mnist_when_found(tmp_path, no_fashion_mnist):
    write_fake_fashion_mnist(tmp_path / "data" / "fashion-mnist")
    done = run("train", "--verbose", "0", cwd=tmp_path, env={**no_fashion_mnist, "DENSO_DATA": tmp_path / "data"})
    assert done.returncode == 0, done.stderr
    assert f"default job: Fashion-MNIST, found in {tmp_path / 'data' / 'fashion-mnist'}" in done.stdout
    assert "784-256-128-10 (relu)" in done.stdout and "235,146 parameters" in done.stdout
    assert "adam lr 0.001, batch 128, 10 epochs, validation split 0.1" in done.stdout
    assert float(table_row(done.stdout, "test")[1]) >= 0.9
    assert (tmp_path / "denso-fashion-mnist.npz").is_file()


# ---- errors: one line on stderr, the right exit status ------------------------------------------------------
@pytest.fixture
def files(tmp_path):
    """Data and model files for the error cases."""
    (tmp_path / "ok.csv").write_text("a,b,label\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n9,10,0\n")
    (tmp_path / "words.csv").write_text("a,color,label\n1,2,0\n3,red,1\n")
    (tmp_path / "binary.csv").write_bytes(b"\x00\xff\xfe\x81\x00")
    (tmp_path / "three.csv").write_text("a,b,c,label\n1,2,3,0\n")
    np.savez(tmp_path / "data.npz", x=np.ones((4, 2)), y=np.zeros(4))
    model = denso.Sequential([denso.Dense(4, activation="relu"), denso.Dense(2)], input_dim=2, seed=0)
    model.compile("adam", "categorical_crossentropy", ["accuracy"])
    model.save(tmp_path / "model.npz")
    (tmp_path / "truncated.npz").write_bytes((tmp_path / "model.npz").read_bytes()[:200])
    return tmp_path


ERRORS = [  # (arguments, exit status, message pattern)
    (["train", "--data", "missing.csv"], 1, r"^denso: error: no such file: 'missing.csv'$"),
    (["train", "--data", "fashion"], 1, r"'fashion' is neither a dataset name \(fashion-mnist, mnist, spirals"),
    (["train", "--data", "binary.csv"], 1, r"'binary.csv' is not a text CSV file"),
    (["train", "--data", "."], 1, r"'\.' is a directory, not a data file"),
    (["train", "--data", "words.csv"], 1, r"row 3, column 'color' holds 'red', which is not a number"),
    (["train", "--data", "ok.csv", "--target", "price"], 1,
     r"'ok.csv' has no target column 'price'; its columns are 'a', 'b', 'label'"),
    (["train", "--data", "model.npz"], 1, r"'model.npz' is a denso model file, not a data file"),
    (["train", "--data", "spirals", "--out", "no/such/dir/m.npz"], 1, r"--out 'no/such/dir/m.npz': the directory .* "
     r"does not exist"),
    (["train", "--data", "spirals", "--out", "m.h5"], 2, r"^denso: error: --out: cannot save to 'm.h5': denso does "
     r"not write Keras's HDF5\. .* name the file with .npz or .denso$"),
    (["train", "--data", "spirals", "--target", "label"], 2, r"^denso: error: --target and --test-split apply to "),
    (["train", "--data", "data.npz", "--target", "y"], 2, r"--target applies to CSV files"),
    (["train", "--lr", "-1"], 2, r"^denso train: error: argument --lr: must be > 0, got -1 \(see denso train --help\)$"),
    (["train", "--layers", "64,x"], 2, r"argument --layers: expected comma-separated layer widths"),
    (["train", "--dropout", "1"], 2, r"argument --dropout: must be < 1"),
    (["train", "--optimizer", "adagrad"], 2, r"argument --optimizer: invalid choice: 'adagrad'"),
    (["train", "--epochs", "0"], 2, r"argument --epochs: must be >= 1"),
    (["train", "--bogus"], 2, r"unrecognized arguments: --bogus"),
    (["train", "--data", "ok.csv", "--validation-split", "0.1"], 2,
     r"^denso: error: `--validation-split`=0.1 leaves 0 of 4 samples for validation; it must leave at least one"),
    (["evaluate", "ok.csv", "spirals"], 1, r"'ok.csv' is not a readable denso model file"),
    (["evaluate", "data.npz", "spirals"], 1, r"'data.npz' is not a readable denso model file"),
    (["evaluate", "truncated.npz", "spirals"], 1, r"'truncated.npz' is not a readable denso model file"),
    (["evaluate", "gone.npz", "spirals"], 1, r"no model file at 'gone.npz'"),
    (["evaluate", "model.npz", "three.csv"], 1, r"three.csv \(all rows\) has 3 feature columns, but the model takes 2"),
    (["evaluate", "model.npz", "ok.csv", "--target", "c"], 1, r"no target column 'c'"),
    (["evaluate", "model.npz"], 2, r"the following arguments are required: DATA"),
    (["predict", "model.npz", "words.csv"], 1, r"holds 'red', which is not a number"),
    (["summary", "ok.csv"], 1, r"'ok.csv' is not a readable denso model file"),
    (["train", "--data", "sine", "--optimizer", "sgd", "--lr", "1000", "--epochs", "2"], 1,
     r"the training loss became NaN or infinite at epoch 1"),
]


@pytest.mark.parametrize("args, status, message", ERRORS, ids=[" ".join(e[0]) for e in ERRORS])
def test_errors_in_process(files, monkeypatch, capsys, args, status, message):
    monkeypatch.chdir(files)
    assert cli.main(args + ["--verbose", "0"] if args[0] == "train" and "--bogus" not in args else args) == status
    captured = capsys.readouterr()
    assert re.search(message, error_line(captured.err)), captured.err
    assert not list(files.glob("denso-*.npz"))  # nothing half-done was written


@pytest.mark.parametrize("args, status, message", [e for e in ERRORS if e[0][:3] in (
    ["train", "--data", "missing.csv"], ["train", "--data", "binary.csv"], ["train", "--data", "words.csv"],
    ["train", "--data", "ok.csv"], ["evaluate", "ok.csv", "spirals"], ["train", "--lr", "-1"])])
def test_errors_as_a_process(files, args, status, message):
    done = run(*args, cwd=files)
    assert done.returncode == status
    assert re.search(message, error_line(done.stderr))


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(files, monkeypatch, capsys):
    monkeypatch.chdir(files)
    os.chmod(files / "ok.csv", 0)
    assert cli.main(["train", "--data", "ok.csv"]) == 1
    assert "Permission denied" in error_line(capsys.readouterr().err)


def test_no_command_prints_usage_and_exits_2(tmp_path):
    done = run(cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.startswith("usage: denso") and done.stdout == ""


def test_traceback_on_request(files, monkeypatch):
    monkeypatch.chdir(files)
    monkeypatch.setenv("DENSO_TRACEBACK", "1")
    with pytest.raises(FileNotFoundError, match="no such file"):
        cli.main(["train", "--data", "missing.csv"])


def test_plot_without_matplotlib_fails_before_training(files, monkeypatch, capsys):
    monkeypatch.chdir(files)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    assert cli.main(["train", "--data", "spirals", "--plot", "c.png"]) == 1
    captured = capsys.readouterr()
    assert "pip install 'denso[plot]'" in error_line(captured.err) and "Epoch" not in captured.out


# ---- help --------------------------------------------------------------------------------------------
HELP = {
    "train": ["--data", "--target", "--test-split", "--standardize", "--layers", "--activation", "--loss", "--l1",
              "--l2", "--task", "--dropout", "--optimizer", "--lr", "--batch-size", "--epochs", "--validation-split",
              "--early-stopping", "--seed", "--threads", "--verbose", "--out", "--plot", "exit status"],
    "evaluate": ["MODEL", "DATA", "--target", "--test-split", "--seed", "--batch-size", "--threads", "exit status"],
    "predict": ["MODEL", "DATA", "--out", "--target", "--batch-size", "--threads", "exit status"],
    "summary": ["MODEL", "exit status"],
    "experiment": ["NAME", "--list", "--out", "--small", "--seed", "--threads", "exit status"],
    "graph": ["EXPR", "--values", "--out", "--rankdir", "exit status"],
}


@pytest.mark.parametrize("command", sorted(HELP))
def test_help_of_each_command_documents_every_option(command, capsys):
    assert cli.main([command, "--help"]) == 0
    text = capsys.readouterr().out
    for option in HELP[command]:
        assert option in text, option
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, cli.argparse._SubParsersAction)).choices[command]
    for action in sub._actions:
        assert action.help, f"{command}: {action.option_strings or action.dest} has no help"


def test_top_level_help_and_version(tmp_path):
    done = run("--help", cwd=tmp_path)
    assert done.returncode == 0 and all(c in done.stdout for c in HELP)
    done = run("--version", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.strip() == f"denso {denso.__version__}"


# ---- train options, in process -------------------------------------------------------------------------
def test_network_options_build_the_described_model(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    threads = []
    monkeypatch.setattr(denso, "set_num_threads", threads.append)
    assert cli.main(["train", "--data", "spirals", "--layers", "16,8", "--activation", "tanh", "--dropout", "0.25",
                     "--l2", "1e-4", "--l1", "1e-5", "--optimizer", "sgd", "--lr", "0.05", "--epochs", "2",
                     "--batch-size", "50", "--validation-split", "0", "--threads", "1", "--seed", "3",
                     "--out", "m.npz", "--verbose", "0"]) == 0
    assert threads == [1]
    out = capsys.readouterr().out
    assert "2-16-8-2 (tanh)" in out and "sgd lr 0.05, batch 50, 2 epochs" in out
    assert "validation" not in out.split("denso: model:")[1]  # no validation split, no validation row
    model = denso.load_model(tmp_path / "m.npz")
    kinds = [(type(layer).__name__, getattr(layer, "units", None) or getattr(layer, "rate", None))
             for layer in model.layers]
    assert kinds == [("Dense", 16), ("Dropout", 0.25), ("Dense", 8), ("Dropout", 0.25), ("Dense", 2)]
    dense = [layer for layer in model.layers if isinstance(layer, denso.Dense)]
    assert all(layer.l2 == 1e-4 and layer.l1 == 1e-5 for layer in dense)
    assert dense[0].activation == "tanh" and dense[-1].activation == "identity"
    assert model.optimizer.config()["name"] == "sgd" and model.optimizer.lr == 0.05
    assert model.seed == 3 and model.epochs_trained == 2


def test_early_stopping_stops_and_keeps_the_best_weights(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", "--data", "sine", "--epochs", "200", "--lr", "0.05", "--early-stopping", "2",
                     "--verbose", "2", "--out", "m.npz"]) == 0
    out = capsys.readouterr().out
    epochs = re.findall(r"^Epoch (\d+)/200 .* val_loss: (\S+)", out, re.MULTILINE)
    assert 3 <= len(epochs) < 200
    best = min(float(v) for _, v in epochs)
    assert float(table_row(out, "validation")[0]) == pytest.approx(best, abs=1e-4)


def test_regression_csv_with_standardisation_saves_a_model_for_raw_features(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(1)
    x = np.column_stack([rng.normal(3000, 400, 300), rng.normal(0.02, 0.004, 300)])
    y = (x[:, 0] - 3000) / 400 - 2 * (x[:, 1] - 0.02) / 0.004
    np.savetxt("houses.csv", np.column_stack([x, y]), delimiter=",", header="area,rate,price", comments="", fmt="%.9g")
    assert cli.main(["train", "--data", "houses.csv", "--target", "price", "--standardize", "--epochs", "40",
                     "--lr", "0.01", "--out", "h.npz", "--verbose", "0"]) == 0
    out = capsys.readouterr().out
    assert "target column 'price'" in out and "regression" in out and "loss mse" in out
    assert "60 of them held out for testing" in out and "folded into its first layer" in out
    test_loss, test_mae = (float(v) for v in table_row(out, "test"))
    assert test_mae < 0.3  # the target has standard deviation ~2.2: the scaled features were learned
    model = denso.load_model("h.npz")
    assert cli.main(["evaluate", "h.npz", "houses.csv", "--target", "price"]) == 0
    assert float(table_row(capsys.readouterr().out, "data")[1]) < 0.3  # raw CSV rows, no scaling needed
    assert cli.main(["predict", "h.npz", "houses.csv", "--out", "p.csv"]) == 0  # drops the extra last column
    assert "wrote 300 predictions" in capsys.readouterr().out
    preds = np.loadtxt("p.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(preds, model.predict(x.astype(np.float32))[:, 0], rtol=1e-5, atol=1e-5)
    with open("p.csv") as f:
        assert f.readline().strip() == "prediction"


@pytest.mark.parametrize("loss", ["mae", "huber"])
def test_regression_losses_mae_and_huber_train_from_the_command_line(tmp_path, monkeypatch, capsys, loss):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(2)
    x = rng.normal(0, 1, (200, 2))
    y = 1000 + 300 * x[:, 0] - 100 * x[:, 1]
    np.savetxt("t.csv", np.column_stack([x, y]), delimiter=",", header="a,b,y", comments="", fmt="%.9g")
    assert cli.main(["train", "--data", "t.csv", "--loss", loss, "--standardize", "--epochs", "3", "--out", "m.npz",
                     "--verbose", "0"]) == 0
    out = capsys.readouterr().out
    assert f"loss {loss}" in out and "regression target scaled" in out
    model = denso.load_model("m.npz")
    assert model.loss.name == loss and model.metrics == ["mae"]
    assert cli.main(["evaluate", "m.npz", "t.csv"]) == 0
    reported_mae = float(table_row(capsys.readouterr().out, "data")[1])
    raw_mae = np.abs(model.predict(x.astype(np.float32))[:, 0] - y).mean()  # the target scaler is folded in
    assert reported_mae == pytest.approx(raw_mae, rel=1e-4)


def test_folding_the_standardisation_keeps_the_outputs():
    rng = np.random.default_rng(0)
    x = rng.normal([100.0, -5.0, 0.0], [20.0, 0.1, 3.0], (50, 3))
    scaler = datasets.Standardizer().fit(x)
    model = denso.Sequential([denso.Dense(6, activation="tanh"), denso.Dense(2)], input_dim=3, seed=0,
                             dtype="float64")
    model.compile("adam", "categorical_crossentropy", ["accuracy"])
    model.fit(scaler.transform(x), np.arange(50) % 2, epochs=1, batch_size=10, verbose=0)
    assert model.steps_trained == 5
    before = model.predict(scaler.transform(x))
    cli.fold_standardization(model, scaler)
    np.testing.assert_allclose(model.predict(x), before, rtol=1e-9, atol=1e-12)
    assert model.steps_trained == 0  # a fresh optimizer: the old moments belonged to the scaled inputs


def test_predict_classifier_to_stdout_and_summary(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", "--data", "spirals", "--epochs", "3", "--out", "s.npz", "--verbose", "0"]) == 0
    capsys.readouterr()
    assert cli.main(["predict", "s.npz", "spirals"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "prediction,prob_0,prob_1" and len(lines) == 501
    table = np.array([[float(v) for v in line.split(",")] for line in lines[1:]])
    np.testing.assert_allclose(table[:, 1:].sum(axis=1), 1.0, atol=2e-6)
    assert np.array_equal(table[:, 0], table[:, 1:].argmax(axis=1))
    assert all(re.fullmatch(r"[01],.*", line) for line in lines[1:])  # the class is written as an integer
    assert cli.main(["summary", "s.npz"]) == 0
    out = capsys.readouterr().out
    assert "Total params: 1,218" in out and "Loss: categorical_crossentropy" in out
    assert re.search(r"Trained: 3 epochs, 129 steps", out)


def test_infer_task():
    assert cli.infer_task(np.array([0, 2, 1]), "auto")[:2] == ("categorical_crossentropy", 3)
    assert cli.infer_task(np.array([0, 1]), "auto")[:2] == ("categorical_crossentropy", 2)
    assert cli.infer_task(np.array([0.5, 1.5]), "auto")[:2] == ("mse", 1)
    assert cli.infer_task(np.array([-1, 3]), "auto")[:2] == ("mse", 1)
    assert cli.infer_task(np.array([0, 5000]), "auto")[:2] == ("mse", 1)
    assert cli.infer_task(np.zeros((4, 3)), "auto")[:2] == ("mse", 3)
    assert cli.infer_task(np.array([0, 1]), "binary_crossentropy")[:2] == ("binary_crossentropy", 1)
    assert cli.infer_task(np.array([0, 1]), "mae")[:2] == ("mae", 1)  # an explicit regression loss decides
    assert cli.infer_task(np.array([0.5, 2.0]), "huber")[:2] == ("huber", 1)
    with pytest.raises(cli.UsageError, match="contradicts --loss huber"):
        cli.infer_task(np.array([0, 1]), "huber", "classification")
    with pytest.raises(ValueError, match="needs whole-number class labels"):
        cli.infer_task(np.array([0.5]), "categorical_crossentropy")


def test_layer_widths_parser():
    assert cli.layer_widths("256,128") == (256, 128) and cli.layer_widths("none") == () and cli.layer_widths("8") == (8,)
    with pytest.raises(cli.argparse.ArgumentTypeError, match=">= 1"):
        cli.layer_widths("8,0")


# ---- experiment ----------------------------------------------------------------------------------------
@pytest.fixture
def fake_experiments(monkeypatch):
    calls = []

    def demo(out_dir, small=False, seed=0):
        """A demonstration: writes one file."""
        calls.append((out_dir, small, seed))
        path = os.path.join(out_dir, "demo.csv")
        with open(path, "w") as f:
            f.write("a\n1\n")
        return {"table": path, "summary": "demo done: 1 row"}

    module = types.ModuleType("denso.experiments")
    module.EXPERIMENTS = {"demo": demo}
    monkeypatch.setitem(sys.modules, "denso.experiments", module)
    return calls


def test_experiment_runs_through_the_interface(tmp_path, monkeypatch, capsys, fake_experiments):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["experiment", "demo", "--out", "results", "--small", "--seed", "7"]) == 0
    assert fake_experiments == [("results", True, 7)]
    out = capsys.readouterr().out
    assert "demo done: 1 row" in out and f"table: {os.path.join('results', 'demo.csv')}" in out
    assert (tmp_path / "results" / "demo.csv").is_file()
    assert cli.main(["experiment", "demo"]) == 0
    assert fake_experiments[-1] == (os.path.join("denso-experiments", "demo"), False, 0)
    assert cli.main(["experiment", "--list"]) == 0
    assert re.search(r"^demo\s+A demonstration: writes one file\.$", capsys.readouterr().out, re.MULTILINE)


def test_experiment_errors(monkeypatch, capsys, fake_experiments):
    assert cli.main(["experiment", "nope"]) == 2
    assert "unknown experiment 'nope'; choose one of demo" in error_line(capsys.readouterr().err)
    assert cli.main(["experiment"]) == 2
    assert "name an experiment: demo (or --list)" in error_line(capsys.readouterr().err)
    monkeypatch.setitem(sys.modules, "denso.experiments", None)
    assert cli.main(["experiment", "--list"]) == 1
    assert "no module denso.experiments" in error_line(capsys.readouterr().err)
    monkeypatch.setitem(sys.modules, "denso.experiments", types.ModuleType("denso.experiments"))
    assert cli.main(["experiment", "--list"]) == 1
    assert "does not define the EXPERIMENTS dict" in error_line(capsys.readouterr().err)


# ---- data files that cannot be read: one line each (#10 item 12) -----------------------------------------
def _encrypted_npz(path):
    np.savez(path, x=np.ones((4, 2)), y=np.zeros(4))
    data = bytearray(path.read_bytes())
    for signature, flags in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # the first entry's local and central header
        at = data.index(signature)
        data[at + flags] |= 0x1
    path.write_bytes(bytes(data))


def test_unreadable_data_files_are_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DENSO_TRACEBACK", raising=False)
    with open("array.npz", "wb") as f:
        np.save(f, np.zeros((4, 3)))
    _encrypted_npz(tmp_path / "secret.npz")
    for name, message in [("array.npz", r"'array.npz' is not a readable .npz file: it holds a single .npy array"),
                          ("secret.npz", r"'secret.npz' is not a readable .npz file: .*encrypted")]:
        assert cli.main(["train", "--data", name, "--verbose", "0"]) == 1
        assert re.match(rf"denso: error: {message}", error_line(capsys.readouterr().err))


def test_an_unexpected_failure_reading_a_data_file_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DENSO_TRACEBACK", raising=False)
    (tmp_path / "ok.csv").write_text("a,b,label\n1,2,0\n3,4,1\n")

    def broken(path, target=-1):
        raise RecursionError("maximum recursion depth exceeded")
    monkeypatch.setattr(datasets, "read_table", broken)
    assert cli.main(["train", "--data", "ok.csv", "--verbose", "0"]) == 1
    assert error_line(capsys.readouterr().err) == ("denso: error: cannot read data file 'ok.csv': RecursionError: "
                                                   "maximum recursion depth exceeded")


def test_an_idx_file_that_inflates_beyond_its_header_is_one_line(tmp_path, monkeypatch, capsys, no_fashion_mnist):
    directory = tmp_path / "data" / "fashion-mnist"
    directory.mkdir(parents=True)
    images = np.zeros((4, 28, 28), np.uint8)
    for x_name, y_name in datasets.IDX_FILES.values():
        write_idx(directory / (x_name + ".gz"), images)
        write_idx(directory / (y_name + ".gz"), np.arange(4, dtype=np.uint8))
    bomb = directory / (datasets.IDX_FILES["train"][0] + ".gz")
    with gzip.open(bomb, "wb", compresslevel=1) as f:  # the header declares 4 images, 8 MiB follow
        f.write(bytes([0, 0, 0x08, 3]) + (4).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + images.tobytes())
        f.write(bytes(8 << 20))
    monkeypatch.setenv("DENSO_DATA", str(tmp_path / "data"))
    assert cli.main(["train", "--data", "fashion-mnist", "--verbose", "0"]) == 1
    assert re.match(rf"denso: error: '{re.escape(str(bomb))}' should hold 3152 bytes for shape \(4, 28, 28\), but "
                    r"holds more \(trailing data\)", error_line(capsys.readouterr().err))


# ---- the task rule, target scaling, evaluate --test-split (issue #11) ------------------------------------
@pytest.mark.parametrize("y, loss, task, expected", [
    (np.arange(20) % 20, "auto", "auto", ("categorical_crossentropy", 20, "task: classification into 20 classes "
                                          "(20 distinct whole-number targets in 0..19 (<= 20); --task regression")),
    (np.arange(21), "auto", "auto", ("mse", 1, "task: regression (21 distinct whole-number targets > 20; "
                                     "--task classification to override)")),
    (np.arange(25, 372), "auto", "auto", ("mse", 1, "task: regression (347 distinct whole-number targets > 20")),
    (np.arange(25, 372), "auto", "classification", ("categorical_crossentropy", 372,
                                                    "task: classification into 372 classes (--task classification)")),
    (np.array([0, 1, 1]), "auto", "regression", ("mse", 1, "task: regression (--task regression)")),
    (np.array([1.5, 2.0]), "auto", "auto", ("mse", 1, "task: regression (the target holds fractional values")),
    (np.array([-1, 1]), "auto", "auto", ("mse", 1, "-1 < 0 is not a class label")),
    (np.array([0, 1]), "mse", "auto", ("mse", 1, "task: regression (--loss mse)")),
    (np.array([0, 1]), "binary_crossentropy", "classification", ("binary_crossentropy", 1, "binary classification")),
    (np.zeros((4, 3)), "auto", "classification", ("categorical_crossentropy", 3, "task: classification (3 target")),
])
def test_task_rule(y, loss, task, expected):
    got = cli.infer_task(y, loss, task)
    assert got[:2] == expected[:2] and expected[2] in got[2], got


def test_task_rule_errors_name_the_option():
    with pytest.raises(cli.UsageError, match="--task regression contradicts --loss categorical_crossentropy"):
        cli.infer_task(np.array([0, 1]), "categorical_crossentropy", "regression")
    with pytest.raises(ValueError, match=r"--task classification needs class labels 0, 1, 2, \.\.\., but the target "
                                         r"holds -2"):
        cli.infer_task(np.array([-2, 1]), "auto", "classification")
    with pytest.raises(ValueError, match="--task classification needs whole-number class labels"):
        cli.infer_task(np.array([0.5, 1.0]), "auto", "classification")


def _write_counts_csv(path, n=300):
    """A regression whose whole-number target takes ~100 distinct values around 6e5 (the houses problem)."""
    rng = np.random.default_rng(5)
    x = rng.normal(0, 1, (n, 3))
    y = np.round(6e5 + 1e5 * (x[:, 0] - 0.5 * x[:, 1]) + 1e3 * rng.normal(size=n), -3).astype(np.int64)
    np.savetxt(path, np.column_stack([x, y]), delimiter=",", header="a,b,c,price", comments="", fmt="%.6g")
    return x, y


def test_many_whole_number_targets_train_a_regression_with_scaled_targets(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    x, y = _write_counts_csv("counts.csv")
    assert cli.main(["train", "--data", "counts.csv", "--standardize", "--epochs", "60", "--lr", "0.01",
                     "--out", "m.npz", "--verbose", "0"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^denso: task: regression \(\d+ distinct whole-number targets > 20; --task classification to "
                     r"override\)$", out, re.MULTILINE)
    assert "loss mse" in out and "and into its last layer: it predicts raw targets" in out
    test_mae = float(table_row(out, "test")[1])
    assert test_mae < 0.1 * y.std()  # learned in the target's units (a model stuck near 0 has MAE ~6e5)
    model = denso.load_model("m.npz")
    preds = model.predict(x.astype(np.float32))[:, 0]
    assert abs(preds.mean() - y.mean()) < 0.05 * y.std()  # raw targets out, no scaler needed
    # the same model through evaluate --test-split: train's test rows, train's numbers
    assert cli.main(["evaluate", "m.npz", "counts.csv", "--test-split"]) == 0
    evaluated = capsys.readouterr().out
    assert "counts.csv test split (--test-split 0.2, --seed 0: 60 of 300 rows): 60 samples" in evaluated
    assert table_row(evaluated, "test") == table_row(out, "test")
    _, test = datasets.split_rows(300, 0.2, 0)
    logs = model.evaluate(x[test].astype(np.float32), y[test])
    assert float(table_row(evaluated, "test")[1]) == pytest.approx(logs["mae"], rel=1e-4)


def test_without_target_scaling_the_same_regression_learns_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _, y = _write_counts_csv("counts.csv")
    assert cli.main(["train", "--data", "counts.csv", "--task", "regression", "--epochs", "60", "--lr", "0.01",
                     "--out", "m.npz", "--verbose", "0"]) == 0
    assert float(table_row(capsys.readouterr().out, "test")[1]) > 0.5 * y.mean()  # why --standardize scales y


def test_evaluate_test_split_follows_the_seed_and_fraction(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    x, y = _write_counts_csv("counts.csv")
    assert cli.main(["train", "--data", "counts.csv", "--test-split", "0.3", "--seed", "4", "--epochs", "2",
                     "--out", "m.npz", "--verbose", "0"]) == 0
    trained = capsys.readouterr().out
    assert cli.main(["evaluate", "m.npz", "counts.csv", "--test-split", "0.3", "--seed", "4"]) == 0
    assert table_row(capsys.readouterr().out, "test") == table_row(trained, "test")
    assert cli.main(["evaluate", "m.npz", "counts.csv", "--test-split", "0.3"]) == 0  # another seed: other rows
    assert "--seed 0: 90 of 300 rows" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["evaluate", "m.npz", "spirals", "--test-split"], r"--target and --test-split apply to \.csv/\.npz files"),
    (["evaluate", "m.npz", "counts.csv", "--test-split", "0"], r"--test-split 0 holds out no rows"),
    (["evaluate", "m.npz", "own.npz", "--test-split"], r"has its own test set .* leave out --test-split"),
    (["evaluate", "m.npz", "counts.csv", "--test-split", "0.001"], r"--test-split=0.001 leaves 0 of 300 rows"),
    (["train", "--data", "counts.csv", "--task", "regression", "--loss", "binary_crossentropy"],
     r"--task regression contradicts --loss binary_crossentropy"),
])
def test_task_and_test_split_usage_errors(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    _write_counts_csv("counts.csv")
    np.savez("own.npz", x=np.ones((4, 3)), y=np.zeros(4), x_test=np.ones((2, 3)), y_test=np.zeros(2))
    model = denso.Sequential([denso.Dense(1)], input_dim=3, seed=0)
    model.compile("adam", "mse", ["mae"])
    model.save("m.npz")
    assert cli.main(args) == 2
    assert re.search(message, error_line(capsys.readouterr().err))

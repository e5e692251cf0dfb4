"""README's `denso ...` command examples run as written: each ```bash line that starts with `denso `, in
order, in a fresh directory holding a copy of examples/ (as a checkout has it), exit 0 with the output
they promise."""
import html
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from denso import datasets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A line of output each kind of command must print (regular expressions, multiline).
EXPECTED = {
    "train": r"^denso: model written to \S+\.npz",
    "evaluate": r"^test\s+\S+\s+\S+$",
    "predict": r"^denso: wrote \d+ predictions for ",
    "summary": r"^Total params: [\d,]+$",
    "experiment": r"^(optimizers\s+Why do momentum, RMSprop and Adam beat|denso: png: results/optimizers\.png)",
    "graph": r"^denso: graph written to \S+$",
}
# What a particular example promises beyond that (a substring of the example → an output pattern).
PROMISES = {
    "--data examples/diabetes.csv": r"^denso: task: regression \(\d+ distinct whole-number targets > 20; "
                                    r"--task classification to override\)$",
    "--data examples/houses.csv": r"^denso: task: regression \(",
    "--test-split": r"test split \(--test-split 0\.2, --seed 0: 40 of 200 rows\)",
    "new-houses.csv": r"^denso: wrote 5 predictions",
    "(a + 2*b) * c": r"^J = \(a \+ 2\*b\) \* c = -10\ndJ/da = -2\ndJ/db = -4\ndJ/dc = 5$",
}


def can_render_graphs() -> bool:
    """Whether the graphviz package and Graphviz's `dot` program are installed."""
    try:
        import graphviz  # noqa: F401
    except ImportError:
        return False
    return shutil.which("dot") is not None


def readme_commands() -> list:
    """The `denso ...` lines of README's ```bash blocks, comments removed, in order."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    commands = []
    for block in re.findall(r"^```bash\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        for line in block.splitlines():
            if line.startswith("denso "):
                commands.append(shlex.split(line, comments=True))
    return commands


def test_readme_has_the_cli_examples():
    commands = readme_commands()
    assert ["denso", "train"] in commands and len(commands) >= 8
    assert any("examples/houses.csv" in c for c in commands) and any(c[1] == "evaluate" for c in commands)
    for command in commands:  # every file the examples read is shipped
        for word in command:
            if word.startswith("examples/"):
                assert os.path.isfile(os.path.join(ROOT, word)), word


def test_every_readme_cli_example_runs_as_written(tmp_path):
    work = tmp_path / "checkout"
    shutil.copytree(os.path.join(ROOT, "examples"), work / "examples")
    (work / "docs").mkdir()  # where the graph example draws (the checkout's docs/graph-abc.svg)
    env = {**os.environ, "SKBUILD_EDITABLE_VERBOSE": "0", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    have_fashion = datasets.fashion_mnist_dir() is not None
    ran = 0
    for command in readme_commands():
        line = " ".join(command)
        if "fashion-mnist" in command and not have_fashion:
            continue  # it would download Fashion-MNIST; the tests stay offline
        if "--plot" in command:
            pytest.importorskip("matplotlib")
        if command[1] == "graph" and not can_render_graphs():
            continue  # Graphviz draws it: pip install 'denso[viz]' and apt-get install graphviz
        done = subprocess.run([sys.executable, "-m", "denso", *command[1:]], cwd=work, env=env, text=True,
                              capture_output=True, timeout=600)
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
        assert re.search(EXPECTED[command[1]], done.stdout, re.MULTILINE), f"{line}\n{done.stdout}"
        for needle, pattern in PROMISES.items():
            if needle in line:
                assert re.search(pattern, done.stdout, re.MULTILINE), f"{line}\n{done.stdout}"
        ran += 1
    assert ran >= 8
    assert (work / "curves.png").read_bytes().startswith(b"\x89PNG")
    assert (work / "preds.csv").read_text().splitlines()[0] == "prediction"
    assert (work / "results" / "optimizers.csv").is_file()
    if can_render_graphs():
        assert "∂J/∂c += 5" in html.unescape((work / "docs" / "graph-abc.svg").read_text(encoding="utf-8"))

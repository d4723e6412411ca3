"""scikit-learn's own tests of its MLP estimators, run against ours.

The installed scikit-learn's ``sklearn/neural_network/tests/test_mlp.py`` is
copied to a temporary directory at test time with only its import line
changed to ``fastbackprop.estimators``; nothing of it is kept in this
repository. Six of its tests reach into scikit-learn's private attributes
(``_optimizer``, ``_no_improvement_count``, ``_loss_grad_lbfgs``...) and
are left out; every other one must pass.
"""

import pathlib
import re
import subprocess
import sys

import pytest

sklearn = pytest.importorskip("sklearn", minversion="1.6")

#: the tests that read or set scikit-learn's private attributes
PRIVATE = (
    "test_fit",
    "test_gradient",
    "test_adaptive_learning_rate",
    "test_learning_rate_warmstart",
    "test_n_iter_no_change",
    "test_n_iter_no_change_inf",
)
IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor"
SWAPPED = "from fastbackprop.estimators import MLPClassifier, MLPRegressor"
#: scikit-learn's conftest gives its tests a seed fixture (42 unless its
#: SKLEARN_TESTS_GLOBAL_RANDOM_SEED says otherwise)
CONFTEST = """
import pytest


@pytest.fixture
def global_random_seed():
    return 42
"""


@pytest.mark.slow
def test_scikit_learns_mlp_tests_pass_with_the_import_swapped(tmp_path):
    source = pathlib.Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_mlp.py"
    if not source.exists():
        pytest.skip("this scikit-learn is installed without its tests")
    text = source.read_text()
    assert text.count(IMPORT) == 1, "scikit-learn's test file imports its MLPs otherwise now"
    (tmp_path / "test_mlp_swapped.py").write_text(text.replace(IMPORT, SWAPPED))
    (tmp_path / "conftest.py").write_text(CONFTEST)
    deselected = [f"--deselect=test_mlp_swapped.py::{name}" for name in PRIVATE]
    # a process of its own: the copy is collected outside this repository's
    # pytest configuration, as scikit-learn's own run collects it
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE"]
        + ["test_mlp_swapped.py", *deselected],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    passed = int(re.search(r"(\d+) passed", summary).group(1))
    # 53 in scikit-learn 1.9 (2 of them need pandas, in the test extra)
    assert passed >= 40 and "failed" not in summary and "error" not in summary, summary

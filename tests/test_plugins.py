"""The plugin contract: entry-point discovery, broken plugins skipped with a message, clashes, validation."""

from __future__ import annotations

import json
import textwrap

import pytest

from ibbench.errors import PluginError, UnknownNameError
from ibbench.running.plugins import PluginWarning, load_registry

from .conftest import run_cli, stderr_lines

GOOD_PLUGIN = """
from ibbench.api import Estimate, Estimator, Params, hookimpl

class Constant(Estimator):
    class Params(Params):
        value: float = 0.25
    def estimate(self, task, params, ctx):
        return Estimate(params.value)

@hookimpl
def ibbench_register_estimators(register):
    register("constant", Constant, description="always the same number")
"""


def make_distribution(site, dist: str, module: str, source: str, entry_name: str | None = None):
    """A real installed distribution on ``site``: dist-info with an ``ibbench`` entry point."""
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[ibbench]\n{entry_name or module} = {module}\n")


@pytest.fixture
def site(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    return site


def test_builtins_come_from_ibbench(registry):
    for kind, name in [
        ("task", "gaussian"),
        ("task", "mixture-channel"),
        ("estimator", "mine"),
        ("estimator", "aa-mine"),
        ("estimator", "binning"),
        ("estimator", "mixture"),
    ]:
        assert registry.get(kind, name).distribution == "ibbench"


def test_ksg_comes_from_its_own_distribution(registry):
    assert registry.get("estimator", "ksg").distribution == "ibbench-ksg"


def test_entry_point_plugin_is_registered_and_runs(site):
    make_distribution(site, "ibbench-constant", "ibbench_constant_test", GOOD_PLUGIN)
    registry = load_registry()
    entry = registry.get("estimator", "constant")
    assert entry.distribution == "ibbench-constant"
    assert entry.load().params_for("smoke").value == 0.25


def test_cli_list_and_run_use_an_entry_point_plugin(site, tmp_path):
    make_distribution(site, "ibbench-constant", "ibbench_constant_test", GOOD_PLUGIN)
    env = {"PYTHONPATH": str(site)}
    listed = run_cli("list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    names = {e["name"]: e["distribution"] for e in json.loads(listed.stdout)["estimator"]}
    assert names["constant"] == "ibbench-constant" and names["ksg"] == "ibbench-ksg"
    out = tmp_path / "runs.jsonl"
    ran = run_cli(
        "run",
        "--task",
        "gaussian",
        "--estimator",
        "constant",
        "--set",
        "estimator.value=0.5",
        "--budget",
        "smoke",
        "--json",
        "--out",
        str(out),
        env=env,
    )
    assert ran.returncode == 0, ran.stderr
    record = json.loads(ran.stdout)
    assert record["estimate"] == 0.5 and record["expanded"]["estimator"]["distribution"] == "ibbench-constant"


def test_plugin_that_fails_to_import_is_skipped_with_a_message(site):
    make_distribution(site, "ibbench-broken", "ibbench_broken_test", "raise ImportError('needs libfoo')")
    make_distribution(site, "ibbench-constant", "ibbench_constant_test", GOOD_PLUGIN)
    with pytest.warns(PluginWarning, match=r"ibbench_broken_test.*ibbench-broken.*needs libfoo"):
        registry = load_registry()
    assert registry.get("estimator", "constant")  # the others keep working
    assert [f.distribution for f in registry.failures] == ["ibbench-broken"]


def test_broken_plugin_is_an_error_in_strict_mode(site):
    make_distribution(site, "ibbench-broken", "ibbench_broken_test", "raise ImportError('needs libfoo')")
    with pytest.raises(PluginError, match="ibbench-broken"):
        load_registry(strict=True)


def test_plugin_whose_registration_raises_is_rolled_back(site):
    source = GOOD_PLUGIN + textwrap.dedent("""
        @hookimpl
        def ibbench_register_tasks(register):
            raise RuntimeError("half way")
    """)
    make_distribution(site, "ibbench-half", "ibbench_half_test", source)
    with pytest.warns(PluginWarning, match="half way"):
        registry = load_registry()
    with pytest.raises(UnknownNameError):
        registry.get("estimator", "constant")  # nothing of a failed plugin stays registered


def test_misspelled_hook_is_reported(site):
    source = (
        "from ibbench.api import hookimpl\n@hookimpl\ndef ibbench_register_estimator(register):\n    pass\n"
    )
    make_distribution(site, "ibbench-typo", "ibbench_typo_test", source)
    with pytest.warns(PluginWarning, match="ibbench_register_estimator"):
        registry = load_registry()
    assert registry.failures[0].distribution == "ibbench-typo"


def test_hookimpl_with_a_bad_signature_is_reported(site):
    source = "from ibbench.api import hookimpl\n@hookimpl\ndef ibbench_register_estimators(reg, extra):\n    pass\n"
    make_distribution(site, "ibbench-badsig", "ibbench_badsig_test", source)
    with pytest.warns(PluginWarning, match="PluginValidationError"):
        load_registry()


def test_name_clash_is_loud(site):
    clash = GOOD_PLUGIN.replace('"constant"', '"mine"')
    make_distribution(site, "ibbench-clash", "ibbench_clash_test", clash)
    with pytest.warns(PluginWarning, match="registered by both ibbench and ibbench-clash"):
        registry = load_registry()
    assert registry.get("estimator", "mine").distribution == "ibbench"


def test_cli_list_reports_a_skipped_plugin(site):
    make_distribution(site, "ibbench-broken", "ibbench_broken_test", "raise ImportError('needs libfoo')")
    listed = run_cli("list", env={"PYTHONPATH": str(site)})
    assert listed.returncode == 0
    assert "skipped plugin 'ibbench_broken_test' from ibbench-broken" in listed.stdout
    assert "mine" in listed.stdout


def test_autoload_can_be_disabled(site, monkeypatch):
    make_distribution(site, "ibbench-constant", "ibbench_constant_test", GOOD_PLUGIN)
    monkeypatch.setenv("IBBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
    with pytest.raises(UnknownNameError, match="unknown estimator 'constant'"):
        load_registry().get("estimator", "constant")


@pytest.mark.parametrize(
    ("registration", "fragment"),
    [
        ('register("fn-est", lambda: 42)', "not a subclass of ibbench.api.Estimator"),
        ('register("args-est", NeedsArgs)', "NeedsArgs needs constructor arguments (a, b)"),
        ('register("gaussian[dim=2,mi=1.0]", Constant)', "invalid name 'gaussian[dim=2,mi=1.0]'"),
        ('register("Has Space", Constant)', "invalid name 'Has Space'"),
    ],
)
def test_a_bad_register_target_or_name_is_a_plugin_error_naming_the_distribution(
    site, registration, fragment
):
    source = GOOD_PLUGIN.replace(
        'register("constant", Constant, description="always the same number")', registration
    ) + textwrap.dedent("""
        class NeedsArgs(Estimator):
            def __init__(self, a, b):
                pass
    """)
    module = f"ibbench_bad_{abs(hash(registration))}_test"  # a fresh module per case (imports are cached)
    make_distribution(site, "ibbench-bad", module, source)
    with pytest.warns(PluginWarning, match="ibbench-bad"):
        registry = load_registry()
    assert [f.distribution for f in registry.failures] == ["ibbench-bad"]
    assert fragment in registry.failures[0].error


def test_a_lazy_target_that_needs_arguments_fails_on_use_with_one_line(site):
    source = textwrap.dedent("""
        from ibbench.api import Estimator, hookimpl

        class NeedsArgs(Estimator):
            def __init__(self, a):
                pass

        @hookimpl
        def ibbench_register_estimators(register):
            register("lazy-args", "ibbench_lazy_test:NeedsArgs")
            register("lazy-fn", "ibbench_lazy_test:ibbench_register_estimators")
    """)
    make_distribution(site, "ibbench-lazy", "ibbench_lazy_test", source)
    registry = load_registry()
    with pytest.raises(
        PluginError, match=r"'lazy-args' from ibbench-lazy: NeedsArgs needs constructor arguments"
    ):
        registry.get("estimator", "lazy-args").load()
    with pytest.raises(PluginError, match=r"'lazy-fn' from ibbench-lazy is registered as <function"):
        registry.get("estimator", "lazy-fn").load()


def test_an_example_plugin_estimator_not_installed_says_where_it_is():
    from ibbench.running.plugins import Registry

    with pytest.raises(UnknownNameError) as err:
        Registry().get("estimator", "infonce")
    msg = str(err.value)
    assert msg.startswith("unknown estimator 'infonce'; known estimators: none")
    assert msg.endswith("pip install -e ./plugins/ibbench-variational") and "\n" not in msg
    with pytest.raises(UnknownNameError) as err:
        Registry().get("estimator", "nope")
    assert "pip install" not in str(err.value)


def test_cli_list_imports_no_torch_and_no_scipy():
    """Listing reads registered names and numbers; no lazy target (hence no torch) is imported."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ibbench.cli", "list"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    imported = [line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line]
    heavy = [m for m in imported if m.split(".")[0] in ("torch", "scipy")]
    assert imported and not heavy, heavy[:5]
    assert "gaussian-20d-4nats" in proc.stdout and "4.000000" in proc.stdout


def test_every_registered_truth_is_the_tasks_closed_form(registry):
    """`ibbench list` shows the truths the built-ins register; each is the task's own closed form."""
    for name in registry.names("task"):
        entry = registry.get("task", name)
        if entry.distribution != "ibbench":
            continue
        task = entry.load()
        try:
            closed = task.closed_form_truth(task.params_for("quick", entry.defaults))
        except ValueError:  # no defaults to build from (arrays needs files): no truth either
            closed = None
        if closed is None:
            assert entry.truth is None, name
        else:
            assert entry.truth == pytest.approx(closed, rel=1e-12, abs=1e-12), name


def test_a_class_target_without_a_registered_truth_lists_its_closed_form(site):
    source = textwrap.dedent("""
        from ibbench.api import hookimpl
        from ibbench.tasks.gaussian import Gaussian

        @hookimpl
        def ibbench_register_tasks(register):
            register("gauss-copy", Gaussian, defaults={"mi": 0.5})
            register("gauss-lazy", "ibbench.tasks.gaussian:Gaussian")
            register("gauss-told", "ibbench.tasks.gaussian:Gaussian", truth=1)
    """)
    make_distribution(site, "ibbench-gcopy", "ibbench_gcopy_test", source)
    listed = run_cli("list", "--json", env={"PYTHONPATH": str(site)})
    assert listed.returncode == 0, listed.stderr
    truths = {t["name"]: t["truth"] for t in json.loads(listed.stdout)["task"]}
    assert truths["gauss-copy"] == pytest.approx(0.5)
    assert truths["gauss-lazy"] is None and truths["gauss-told"] == 1.0


def test_a_truth_that_is_not_a_number_is_a_plugin_error(site):
    source = GOOD_PLUGIN.replace('description="always the same number"', 'truth="high"')
    make_distribution(site, "ibbench-badtruth", "ibbench_badtruth_test", source)
    with pytest.warns(PluginWarning, match="ibbench-badtruth"):
        registry = load_registry()
    assert "truth='high'" in registry.failures[0].error


def test_a_skipped_plugin_in_the_environment_leaves_one_line_errors_one_line(site, capsys):
    """A broken third-party plugin warns in every command; the one-line-error check looks past it
    and still sees exactly the error line, in a subprocess and in-process."""
    from ibbench.cli import main

    from .test_cli import assert_one_line_error

    make_distribution(site, "ibbench-broken", "ibbench_broken_test", "raise ImportError('needs libfoo')")
    proc = run_cli("run", "--task", "nope", "--estimator", "mine", env={"PYTHONPATH": str(site)})
    kept = stderr_lines(proc.stderr, keep=("ibbench_broken_test",))
    assert len(kept) == 2 and "'ibbench_broken_test' from distribution ibbench-broken was skipped" in kept[0]
    assert_one_line_error(proc, "unknown task 'nope'")

    assert main(["run", "--task", "nope", "--estimator", "mine"]) == 2
    err = capsys.readouterr().err
    assert "ibbench-broken was skipped" in err  # in-process, the warning reaches stderr too
    assert [line.startswith("ibbench: error: unknown task 'nope'") for line in stderr_lines(err)] == [True]

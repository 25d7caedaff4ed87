"""The CLI defines each shared option once, and it means the same in every command.

Checked on the command tree typer builds (click's view: flags, help, defaults)
and on the source of ``planner/run`` (each shared flag is written once), plus
the behaviour of the groups: ``--workers`` is local processes everywhere,
``--dask-workers`` / ``--scheduler`` a Dask cluster.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import pytest
import typer
import typer.main
import typer.testing

from planner.errors import ParameterError
from planner.run import options
from planner.run.cli import app, main
from planner.run.options import (
    CacheOptions,
    NetworkOptions,
    OverwriteOpt,
    WorkerOptions,
    with_option_groups,
)

ROOT = Path(__file__).resolve().parents[1]

#: The flags of each group, as the README's option table lists them.
NETWORK = ["--pbf", "--osm", "--download", "--region", "--boundary", "--buffer-km",
           "--largest-only", "--no-ferries", "--speed", "--cache-dir", "--no-cache"]  # fmt: skip
WORKERS = ["--workers", "--dask-workers", "--scheduler"]
SHARED = [*NETWORK, *WORKERS, "--overwrite", "--progress", "--stations", "--osm-stations",
          "--crs", "--not-sweden", "--max-snap-m", "--demand", "--demand-type", "--weight",
          "--total", "--thresholds", "--buffer-m", "--cell-m", "--drive-only",
          "--replications"]  # fmt: skip


def _commands() -> dict[str, Any]:
    root: Any = typer.main.get_command(app)  # a click group (typer may vendor click)
    out: dict[str, Any] = {}
    for name, command in root.commands.items():
        if hasattr(command, "commands"):
            out.update({f"{name} {sub}": c for sub, c in command.commands.items()})
        else:
            out[name] = command
    return out


def _flags(command: Any) -> dict[str, Any]:
    return {opt: p for p in command.params for opt in p.opts if opt.startswith("--")}


def test_each_shared_flag_is_written_once_in_the_source() -> None:
    written: dict[str, int] = {}
    for path in (ROOT / "planner" / "run").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "Option"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                flag = str(node.args[0].value).split("/")[0]
                written[flag] = written.get(flag, 0) + 1
    assert {flag: written.get(flag, 0) for flag in SHARED} == dict.fromkeys(SHARED, 1)


def test_a_shared_flag_means_the_same_in_every_command() -> None:
    seen: dict[str, tuple[Any, ...]] = {}
    users: dict[str, list[str]] = {}
    for name, command in _commands().items():
        for flag, param in _flags(command).items():
            if flag not in SHARED:
                continue
            meaning = (
                param.help,
                param.default,
                param.type_descriptor.annotation,
                param.rich_help_panel,
            )
            assert seen.setdefault(flag, meaning) == meaning, (flag, name)
            users.setdefault(flag, []).append(name)
    # traveltimes, coverage, isochrones, optimise, plan, simulate, matrix
    assert len(users["--workers"]) == 7
    assert sorted(users["--replications"]) == ["plan", "simulate"]
    assert "on this machine" in seen["--workers"][0]
    assert "Dask cluster" in seen["--dask-workers"][0] and "Dask cluster" in seen["--scheduler"][0]


def test_commands_take_whole_groups() -> None:
    commands = _commands()
    builds = ["network build", "stations", "traveltimes", "coverage", "isochrones", "optimise"]
    computes = ["traveltimes", "coverage", "isochrones", "optimise", "plan", "simulate", "matrix"]
    for name in builds:
        assert set(NETWORK) <= set(_flags(commands[name])), name
    for name in computes:
        assert set(WORKERS) <= set(_flags(commands[name])), name
    for name in ("plan", "simulate", "matrix"):
        assert {"--cache-dir", "--no-cache"} <= set(_flags(commands[name]))
        assert not {"--pbf", "--region"} & set(_flags(commands[name]))  # the scenario says


def test_groups_are_built_from_the_flat_options() -> None:
    got: dict[str, Any] = {}

    @with_option_groups
    def command(
        *, net: NetworkOptions, work: WorkerOptions, overwrite: OverwriteOpt = False
    ) -> None:
        got.update(net=net, work=work, overwrite=overwrite)

    cli = typer.Typer()
    cli.command()(command)
    runner = typer.testing.CliRunner()
    result = runner.invoke(
        cli, ["--pbf", "x.osm.pbf", "--no-cache", "--workers", "3", "--speed", "a=1", "--overwrite"]
    )
    assert result.exit_code == 0, result.output
    assert got["net"] == NetworkOptions(
        pbf=Path("x.osm.pbf"), speed=["a=1"], cache=CacheOptions(no_cache=True)
    )
    assert got["work"] == WorkerOptions(workers=3) and got["overwrite"] is True


def test_a_flag_defined_twice_is_refused() -> None:
    with pytest.raises(TypeError, match="an option is defined twice"):

        @with_option_groups
        def command(
            *, work: WorkerOptions, workers: Annotated[int, typer.Option("--workers")] = 1
        ) -> None:
            pass


def test_workers_are_local_processes_and_a_cluster_is_asked_for_by_name() -> None:
    with WorkerOptions(workers=3).executor() as executor:
        assert executor is None  # searches run here, in 3 processes
    cases = [
        (WorkerOptions(dask_workers=2, scheduler="tcp://h:8786"), "--dask-workers and --scheduler"),
        (WorkerOptions(workers=2, scheduler="tcp://h:8786"), "--workers runs the searches in"),
        (WorkerOptions(dask_workers=0), r"--dask-workers = 0: must be a whole number >= 1"),
    ]
    for work, message in cases:
        with pytest.raises(ParameterError, match=message), work.executor():
            pass


def test_cluster_options_together_are_an_error_on_the_command_line(
    capsys: pytest.CaptureFixture[str], andorra_scenario_dir: Path, tmp_path: Path
) -> None:
    toml = str(andorra_scenario_dir / "andorra.toml")
    out, map_path = str(tmp_path / "o"), str(tmp_path / "m.html")
    cluster = ["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"]
    code = main(["plan", toml, "--out-dir", out, "--map", map_path, *cluster, "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "error: --workers runs the searches in processes on this machine" in err
    assert not (tmp_path / "o").exists()


def test_matrix_on_a_local_dask_cluster_equals_in_process(
    capsys: pytest.CaptureFixture[str], andorra_scenario_dir: Path, tmp_path: Path
) -> None:
    """`--dask-workers 1` starts a local cluster; `--workers 2` runs here; the pairs are equal."""
    pytest.importorskip("distributed")
    toml = str(andorra_scenario_dir / "andorra.toml")
    base = ["matrix", toml, "--cutoff-min", "15", "--no-progress", "--no-cache"]
    runs = {"here": [], "processes": ["--workers", "2"], "cluster": ["--dask-workers", "1"]}
    for name, extra in runs.items():
        assert main([*base, "--out", str(tmp_path / f"{name}.parquet"), *extra]) == 0
    capsys.readouterr()
    here = pd.read_parquet(tmp_path / "here.parquet")
    assert len(here) > 0
    for name in ("processes", "cluster"):
        pd.testing.assert_frame_equal(here, pd.read_parquet(tmp_path / f"{name}.parquet"))


def test_the_group_module_lists_every_group() -> None:
    assert set(options.OPTION_GROUPS) == {
        getattr(options, name) for name in options.__all__ if name.endswith("Options")
    }

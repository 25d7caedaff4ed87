"""A run is all or nothing: interrupts, kills, concurrent runs, refusals before any work.

`planner plan` runs as a real subprocess on the Andorra example scenario
(data/examples/andorra, reading the real extract in ../shared/data). To stop it
in a given stage, the test starts it through a small launcher that replaces one
stage function of ``planner.run.plan`` with one that prints a line and waits for a
gate file; the test waits for that line on stderr, then sends the signal. The
package itself has no test hook. The network cache is shared by the runs, so
only the first one builds the network.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from conftest import ANDORRA_EXAMPLE

from planner.errors import OutputExistsError, OutputLockedError, ParameterError
from planner.run.cli import main
from planner.staging import MARKER, OutputTarget, stage_outputs, staged_path

ROOT = Path(__file__).resolve().parents[1]

#: Runs the CLI in a child process, optionally pausing in one stage function of
#: planner.run.plan until a gate file exists (argv: stage or "", gate, root, CLI args).
LAUNCHER = """
import sys, time
from pathlib import Path
pause, gate, root = sys.argv.pop(1), Path(sys.argv.pop(1)), Path(sys.argv.pop(1))
import planner
assert Path(planner.__file__).resolve().is_relative_to(root), planner.__file__
if pause:
    import planner.run.plan as plan
    real = getattr(plan, pause)
    def paused(*args, **kwargs):
        print(f"test hook: paused in {pause}", file=sys.stderr, flush=True)
        while not gate.exists():
            time.sleep(0.05)
        return real(*args, **kwargs)
    setattr(plan, pause, paused)
from planner.run.cli import run
run()
"""

INTERRUPTED = "interrupted: nothing was written"


@dataclass
class Child:
    """A `planner` process with its stderr in a file."""

    proc: subprocess.Popen[bytes]
    err: Path
    gate: Path

    def stderr(self) -> str:
        return self.err.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, text: str, timeout: float = 180.0) -> None:
        end = time.monotonic() + timeout
        while text not in self.stderr():
            if self.proc.poll() is not None:
                raise AssertionError(f"exited {self.proc.returncode}:\n{self.stderr()}")
            if time.monotonic() > end:
                self.proc.kill()
                raise AssertionError(f"no {text!r} within {timeout} s:\n{self.stderr()}")
            time.sleep(0.05)

    def finish(self, timeout: float = 300.0) -> int:
        return self.proc.wait(timeout)


def _child_env() -> dict[str, str]:
    """The environment of a child process: this worktree's planner first on the path."""
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path}


def _start(work: Path, *args: str, pause: str = "") -> Child:
    n = len(list(work.glob("stderr-*.txt")))
    err, gate = work / f"stderr-{n}.txt", work / f"gate-{n}"
    with open(err, "wb") as handle:
        proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, pause, str(gate), str(ROOT), *args],
            cwd=work,
            env=_child_env(),
            stdout=subprocess.DEVNULL,
            stderr=handle,
        )
    return Child(proc=proc, err=err, gate=gate)


def _plan(*extra: str) -> list[str]:
    return [
        "plan", str(ANDORRA_EXAMPLE / "andorra.toml"),
        "--out-dir", "out/andorra", "--map", "maps/andorra.html",
        "--cache-dir", "cache", "--no-progress", *extra,
    ]  # fmt: skip


def _checksums(work: Path) -> dict[str, str]:
    """SHA-256 of every file of the plan's outputs (the folder, hidden files too, and the map)."""
    files = [p for p in (work / "out" / "andorra").rglob("*") if p.is_file()]
    files.append(work / "maps" / "andorra.html")
    return {
        str(p.relative_to(work)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in files
        if p.is_file()
    }


def _leftovers(work: Path) -> list[str]:
    """Staging folders, set-aside folders and lock files beside the outputs."""
    names = [*(work / "out").iterdir(), *(work / "maps").iterdir()]
    return sorted(p.name for p in names if ".planner-" in p.name)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory, andorra_pbf: Path) -> Path:
    """A folder with one finished plan (out/andorra, maps/andorra.html) and a warm cache."""
    folder = tmp_path_factory.mktemp("atomic")
    child = _start(folder, *_plan())
    assert child.finish() == 0, child.stderr()
    assert (folder / "out" / "andorra" / "manifest.json").is_file()
    return folder


def _tables(work: Path) -> dict[str, bytes]:
    out = work / "out" / "andorra"
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in out.rglob("*.csv")
        if p.name != "gain_curve.csv"  # its solve_time_s column is a timing
    }


@pytest.mark.parametrize("stage", ["build_network", "run_optimise", "write_optimise"])
def test_interrupt_or_kill_leaves_earlier_outputs_unchanged(work: Path, stage: str) -> None:
    """SIGINT and SIGKILL in the network, optimise and write stages; then a normal rerun."""
    before = _checksums(work)
    tables = _tables(work)
    assert len(before) > 40 and len(tables) > 20

    child = _start(work, *_plan("--overwrite"), pause=stage)
    child.wait_for("test hook: paused")
    staging = next((work / "out").glob(".andorra.planner-staging-*"))
    if stage == "write_optimise":  # interrupted half-way through writing
        assert (staging / "coverage_total.csv").is_file()
        assert (staging / "after" / "coverage_total.csv").is_file()
    child.proc.send_signal(signal.SIGINT)
    assert child.finish() == 130
    err = child.stderr()
    assert err.splitlines()[-1] == INTERRUPTED
    assert err.count("interrupted") == 1 and "Traceback" not in err
    assert _checksums(work) == before
    assert _leftovers(work) == []  # the run cleaned up after itself

    child = _start(work, *_plan("--overwrite"), pause=stage)
    child.wait_for("test hook: paused")
    child.proc.kill()
    assert child.finish() == -signal.SIGKILL
    assert _checksums(work) == before
    left = _leftovers(work)  # a killed run cannot clean up; its lock died with it
    assert any(".andorra.planner-staging-" in name for name in left), left

    child = _start(work, *_plan("--overwrite"))
    assert child.finish() == 0, child.stderr()
    assert _leftovers(work) == []
    assert _tables(work) == tables  # the rerun is complete and reproduces every table
    manifest = json.loads((work / "out" / "andorra" / "manifest.json").read_text())
    assert manifest["network"]["from_cache"] is True
    assert set(_checksums(work)) == set(before)  # the same files, nothing more


def test_sigterm_is_an_interrupt_too(work: Path) -> None:
    before = _checksums(work)
    child = _start(work, *_plan("--overwrite"), pause="run_optimise")
    child.wait_for("test hook: paused")
    child.proc.send_signal(signal.SIGTERM)
    assert child.finish() == 128 + signal.SIGTERM
    err = child.stderr()
    assert err.splitlines()[-1] == INTERRUPTED and "Traceback" not in err
    assert _checksums(work) == before
    assert _leftovers(work) == []


def test_a_second_run_on_the_same_output_is_refused(work: Path) -> None:
    """While one plan runs, another on the same output stops at once (exit 2), computing nothing."""
    before = _checksums(work)
    first = _start(work, *_plan("--overwrite"), pause="build_network")
    first.wait_for("test hook: paused")
    second = _start(work, *_plan("--overwrite"))
    assert second.finish() == 2
    err = second.stderr()
    assert f"is being written by another planner run (pid {first.proc.pid} on " in err
    assert "error: --out-dir: out/andorra" in err
    assert "road network" not in err and "Traceback" not in err
    assert _checksums(work) == before  # the refused run touched nothing
    first.gate.touch()
    assert first.finish() == 0, first.stderr()
    assert _leftovers(work) == []
    # the run that held the lock wrote a complete plan
    manifest = json.loads((work / "out" / "andorra" / "manifest.json").read_text())
    assert {"optimise/sites.csv", "after/coverage_total.csv"} <= set(manifest["outputs"])


def test_existing_output_is_refused_before_any_computation(work: Path) -> None:
    before = _checksums(work)
    child = _start(work, *_plan(), pause="build_network")
    assert child.finish() == 2
    err = child.stderr()
    assert "out/andorra/manifest.json exists" in err and "--overwrite" in err
    assert "test hook: paused" not in err  # the network stage was never reached
    assert _checksums(work) == before
    # the map alone exists: refused too, before any work
    child = _start(work, *_plan("--out-dir", "out/new"), pause="build_network")
    assert child.finish() == 2
    err = child.stderr()
    assert "--map: maps/andorra.html exists" in err and "test hook" not in err
    assert not (work / "out" / "new").exists()


# ---------------------------------------------------------------------------
# In process: every command refuses before computing; bad output folders
# ---------------------------------------------------------------------------


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Building a network fails the test: a refusal must come before it."""

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("the network was built before the output was checked")

    import planner.network.road_network
    import planner.outputs.compare
    import planner.run.plan  # imported before the patch, or it would bind the patched function

    monkeypatch.setattr(planner.network.road_network, "build_network", fail)
    monkeypatch.setattr(planner.run.plan, "build_network", fail)
    monkeypatch.setattr(planner.outputs.compare, "compare_runs", fail)


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().err


def _commands(pbf: Path, out: Path) -> dict[str, list[str]]:
    """Each command that writes outputs, with ``out`` as its output (folder or file)."""
    source = ["--pbf", str(pbf), "--stations", str(ANDORRA_EXAMPLE / "stations.csv")]
    demand = ["--demand", str(ANDORRA_EXAMPLE / "demand.csv"), "--weight", "population"]
    toml = str(ANDORRA_EXAMPLE / "andorra.toml")
    commands = {
        "plan": ["plan", toml, "--out-dir", str(out), "--map", str(out.parent / "m.html")],
        "simulate": ["simulate", toml, "--out-dir", str(out)],
        "coverage": ["coverage", *source, *demand, "--out-dir", str(out)],
        "optimise": ["optimise", *source, *demand, "--out-dir", str(out)],
        "demo": ["demo", "--out-dir", str(out)],
        "isochrones": ["isochrones", *source, "--out", str(out)],
        "traveltimes": ["traveltimes", *source, "--out", str(out)],
        "matrix": ["matrix", toml, "--out", str(out)],
    }
    commands = {name: [*args, "--no-progress"] for name, args in commands.items()}
    commands["compare"] = ["compare", str(out.parent), str(out.parent), "--out-dir", str(out)]
    return commands


FOLDER_COMMANDS = ("plan", "simulate", "coverage", "optimise", "compare", "demo")
FILE_COMMANDS = ("isochrones", "traveltimes", "matrix")


@pytest.mark.parametrize("command", FOLDER_COMMANDS + FILE_COMMANDS)
def test_every_command_refuses_an_existing_output_before_computing(
    command: str,
    tmp_path: Path,
    andorra_pbf: Path,
    no_network: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = command in FOLDER_COMMANDS
    out = tmp_path / ("out" if folder else "out.gpkg" if command == "isochrones" else "t.csv")
    if folder:
        with stage_outputs([OutputTarget(out)], overwrite=False):
            staged_path(out / "table.csv").write_text("a\n1\n", encoding="utf-8")
        assert (out / MARKER).is_file()
    else:
        out.write_text("earlier output\n", encoding="utf-8")
    if command == "matrix":
        (tmp_path / "t_nearest.csv").write_text("earlier output\n", encoding="utf-8")
    code, err = _cli(capsys, *_commands(andorra_pbf, out)[command])
    assert code == 2, err
    option = "--out-dir" if folder else "--out"
    assert f"error: {option}: " in err and " exists" in err and "--overwrite" in err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir() if ".planner-" in p.name) == []


@pytest.mark.parametrize("command", FOLDER_COMMANDS)
def test_out_dir_that_is_a_file_or_lies_under_one(
    command: str,
    tmp_path: Path,
    andorra_pbf: Path,
    no_network: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    afile = tmp_path / "notes.txt"
    afile.write_text("keep me\n", encoding="utf-8")
    args = _commands(andorra_pbf, afile)[command]
    code, err = _cli(capsys, *args)
    assert code == 2
    assert f"error: --out-dir: {afile} is a file, not a folder" in err
    code, err = _cli(capsys, *_commands(andorra_pbf, afile / "sub")[command])
    assert code == 2
    assert f"error: --out-dir: {afile / 'sub'} lies under {afile}, which is a file" in err
    assert afile.read_text(encoding="utf-8") == "keep me\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # nothing beside it


def test_file_output_that_is_a_folder(
    tmp_path: Path, andorra_pbf: Path, no_network: None, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "t.csv").mkdir()
    code, err = _cli(capsys, *_commands(andorra_pbf, tmp_path / "t.csv")["traveltimes"])
    assert code == 2 and f"error: --out: {tmp_path / 't.csv'} is a folder" in err
    toml = str(ANDORRA_EXAMPLE / "andorra.toml")
    args = ["plan", toml, "--out-dir", str(tmp_path / "o"), "--map", str(tmp_path / "t.csv")]
    code, err = _cli(capsys, *args)
    assert code == 2 and f"error: --map: {tmp_path / 't.csv'} is a folder" in err


def test_a_folder_planner_did_not_make_is_never_written_into(
    tmp_path: Path, andorra_pbf: Path, no_network: None, capsys: pytest.CaptureFixture[str]
) -> None:
    foreign = tmp_path / "documents"
    (foreign / "sub").mkdir(parents=True)
    (foreign / "budget.xlsx").write_bytes(b"not planner's")
    (foreign / "sub" / "notes.txt").write_text("mine\n", encoding="utf-8")
    for command in FOLDER_COMMANDS:
        code, err = _cli(capsys, *_commands(andorra_pbf, foreign)[command])
        assert code == 2
        assert f"error: --out-dir: {foreign} exists and was not made by planner" in err
    assert (foreign / "budget.xlsx").read_bytes() == b"not planner's"
    assert sorted(p.name for p in foreign.rglob("*")) == ["budget.xlsx", "notes.txt", "sub"]
    # --overwrite never deletes a folder that holds one of the run's inputs
    stations = foreign / "stations.csv"
    shutil.copyfile(ANDORRA_EXAMPLE / "stations.csv", stations)
    args = _commands(andorra_pbf, foreign)["coverage"]
    args[args.index("--stations") + 1] = str(stations)
    code, err = _cli(capsys, *args, "--overwrite")
    assert code == 2
    assert f"--out-dir: {foreign} holds an input of this run ({stations})" in err
    assert (foreign / "budget.xlsx").read_bytes() == b"not planner's"


def test_the_current_folder_is_never_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "out").mkdir()
    monkeypatch.chdir(tmp_path / "out")
    with (
        pytest.raises(ParameterError, match="holds the current folder"),
        stage_outputs([OutputTarget(Path("."), "--out-dir")], overwrite=True),
    ):
        pass
    assert Path.cwd() == tmp_path / "out"


# ---------------------------------------------------------------------------
# --overwrite replaces the whole output
# ---------------------------------------------------------------------------


def test_overwrite_leaves_no_stale_subfolder(
    work: Path, tmp_path: Path, andorra_pbf: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A plan without [simulate] and [optimise] over one with them: no subfolder survives."""
    out = tmp_path / "out"
    shutil.copytree(work / "out" / "andorra", out)
    assert (out / "after").is_dir() and (out / "optimise").is_dir()
    assert (out / "simulate").is_dir()
    for name in ("andorra.geojson", "stations.csv", "demand.csv"):
        shutil.copyfile(ANDORRA_EXAMPLE / name, tmp_path / name)
    text = (ANDORRA_EXAMPLE / "andorra.toml").read_text(encoding="utf-8")
    text = text.replace('"../../../../shared/data/osm/andorra.osm.pbf"', f'"{andorra_pbf}"')
    text = text[: text.index("\n[simulate]")]  # [optimise] follows it
    assert "[optimise]" not in text
    (tmp_path / "andorra.toml").write_text(text, encoding="utf-8")
    code, err = _cli(
        capsys, "plan", str(tmp_path / "andorra.toml"), "--out-dir", str(out),
        "--map", str(tmp_path / "map.html"), "--cache-dir", str(work / "cache"),
        "--no-progress", "--overwrite",
    )  # fmt: skip
    assert code == 0, err
    assert not (out / "after").exists() and not (out / "optimise").exists()
    assert not (out / "simulate").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["solver"] is None
    on_disk = {p.relative_to(out) for p in out.rglob("*") if p.is_file()}
    assert all(len(p.parts) == 1 for p in on_disk)  # no subfolder at all
    listed = {Path(k) for k in manifest["outputs"]} - {tmp_path / "map.html"}
    assert listed <= on_disk and len(listed) > 10
    assert sorted(p.name for p in tmp_path.iterdir() if ".planner-" in p.name) == []


# ---------------------------------------------------------------------------
# The staging module on its own
# ---------------------------------------------------------------------------


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _write(out: Path, text: str, *, overwrite: bool) -> None:
    with stage_outputs([OutputTarget(out)], overwrite=overwrite):
        folder = staged_path(out)
        (folder / "sub").mkdir()
        (folder / "sub" / "a.csv").write_text(text, encoding="utf-8")


def test_a_failed_run_leaves_the_earlier_output_and_no_staging(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _write(out, "first\n", overwrite=False)
    earlier = _tree(out)
    with (
        pytest.raises(RuntimeError, match="half-way"),
        stage_outputs(
            [OutputTarget(out), OutputTarget(tmp_path / "map.html", kind="file")], overwrite=True
        ),
    ):
        (staged_path(out) / "partial.csv").write_text("x\n", encoding="utf-8")
        staged_path(tmp_path / "map.html").write_text("<html>", encoding="utf-8")
        raise RuntimeError("failed half-way")
    assert _tree(out) == earlier
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    with pytest.raises(OutputExistsError, match="pass --overwrite"):
        _write(out, "second\n", overwrite=False)
    _write(out, "second\n", overwrite=True)
    assert (out / "sub" / "a.csv").read_text(encoding="utf-8") == "second\n"


def test_a_run_killed_inside_the_swap_is_repaired_by_the_next(tmp_path: Path) -> None:
    """Killed between "old folder aside" and "staging into place": the next run puts it back."""
    out = tmp_path / "out"
    _write(out, "first\n", overwrite=False)
    earlier = _tree(out)
    aside = tmp_path / ".out.planner-old-999999-abcd"
    staging = tmp_path / ".out.planner-staging-999999-abcd"
    out.rename(aside)
    (staging / "sub").mkdir(parents=True)
    (staging / "sub" / "a.csv").write_text("new, never finished\n", encoding="utf-8")
    with pytest.raises(OutputExistsError):
        _write(out, "third\n", overwrite=False)
    assert _tree(out) == earlier
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_the_lock_of_a_killed_process_is_released(tmp_path: Path) -> None:
    """A process holding the lock refuses others; once it is killed, the lock is free."""
    out = tmp_path / "out"
    lock = tmp_path / ".out.planner-lock"
    holder = subprocess.Popen(
        [
            sys.executable, "-c",
            "import fcntl, json, os, sys, time\n"
            f"fd = os.open({str(lock)!r}, os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "os.write(fd, json.dumps({'pid': os.getpid(), 'host': 'h', 'started': 't'}).encode())\n"
            "print('locked', flush=True)\n"
            "time.sleep(120)\n",
        ],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
    with pytest.raises(OutputLockedError) as error:
        _write(out, "x\n", overwrite=False)
    assert str(error.value) == (
        f"out_dir: {out} is being written by another planner run (pid {holder.pid} on h, "
        "since t); wait for it to finish, or choose another output"
    )
    assert not out.exists()
    holder.kill()
    holder.wait()
    holder.stdout.close()
    _write(out, "x\n", overwrite=False)  # the kernel released the lock with the process
    assert (out / "sub" / "a.csv").read_text(encoding="utf-8") == "x\n"
    assert not lock.exists()


def test_an_empty_folder_is_used_and_outputs_join_the_run_in_progress(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with stage_outputs([OutputTarget(out)], overwrite=False):
        # an output inside a folder of a run in progress is written with it
        with stage_outputs([OutputTarget(out / "after")], overwrite=False):
            staged_path(out / "after").mkdir()
            staged_path(out / "after" / "t.csv").write_text("1\n", encoding="utf-8")
        assert not (out / "after").exists()  # nothing is visible before the run ends
    assert (out / "after" / "t.csv").read_text(encoding="utf-8") == "1\n"
    assert json.loads((out / MARKER).read_text())["made_by"] == "planner"


def test_a_file_output_is_swapped_in_with_its_sidecar(tmp_path: Path) -> None:
    from planner.outputs.export import write_table

    out = tmp_path / "t.csv"
    with stage_outputs([OutputTarget(out, "--out", kind="file")], overwrite=False):
        written = write_table(pd.DataFrame({"a": [1, 2]}), out, metadata={"k": 1})
        assert written != out and not out.exists()  # written into the staging folder
    assert pd.read_csv(out)["a"].tolist() == [1, 2]
    assert json.loads((tmp_path / "t.csv.meta.json").read_text())["k"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv", "t.csv.meta.json"]


def test_a_forked_worker_does_not_keep_the_lock_of_a_killed_run(tmp_path: Path) -> None:
    """A worker forked during a run (ProcessPoolExecutor) outlives its killed parent.

    It must not hold the output's lock: the next run goes ahead at once.
    """
    out = tmp_path / "out"
    script = (
        "import os, signal, sys, time\n"
        "from pathlib import Path\n"
        "from planner.staging import OutputTarget, stage_outputs\n"
        "with stage_outputs([OutputTarget(Path(sys.argv[1]))], overwrite=False):\n"
        "    child = os.fork()\n"
        "    if child == 0:  # lets go of the test's pipes, keeps the rest\n"
        "        os.dup2(os.open(os.devnull, os.O_RDWR), 1)\n"
        "        os.dup2(1, 2)\n"
        "        time.sleep(120)\n"
        "        os._exit(0)\n"
        "    print(child, flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script, str(out)], env=_child_env(), capture_output=True, timeout=120
    )
    assert run.returncode == -signal.SIGKILL, run.stderr
    orphan = int(run.stdout)
    try:
        os.kill(orphan, 0)  # the forked worker is still alive
        _write(out, "next\n", overwrite=False)
        assert (out / "sub" / "a.csv").read_text(encoding="utf-8") == "next\n"
    finally:
        os.kill(orphan, signal.SIGKILL)

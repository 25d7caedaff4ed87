"""The README's Python API example runs as written, through the new package paths.

The example is taken from the README's ``### Python API`` section (its one
``python`` block) and run as a script in a fresh process, on real data: the
Södermalm extract instead of ``sweden-latest.osm.pbf`` (so Region Stockholm
instead of Gotland), the real SCB tätorter layer, and two real Södermalm
stations. Only the quoted names in :data:`PLACEHOLDERS` are replaced; the test
fails if one of them is no longer in the example, so the README and this
test cannot drift apart silently. The script runs under
``if __name__ == "__main__":``, as the example tells its readers to (Dask's
worker processes import the script again).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Mariatorget and Skanstull, on the Södermalm extract (lat/lon with decimal commas).
STATIONS = "name;lat;lon\nMariatorget;59,3172;18,0605\nSkanstull;59,3079;18,0764\n"


def readme_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Python API", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 1, "the Python API section should hold one python block"
    return blocks[0]


def placeholders(shared_data: Path, tmp_path: Path) -> dict[str, str]:
    """Quoted names in the example -> what they are replaced with here."""
    stations = tmp_path / "stations.csv"
    stations.write_text(STATIONS, encoding="utf-8")
    return {
        '"sweden-latest.osm.pbf"': repr(str(shared_data / "osm" / "stockholm-sodermalm.osm.pbf")),
        '"Region Gotland"': repr("Region Stockholm"),
        '"stations.csv"': repr(str(stations)),
        '"taetorter.osm.xml"': repr(str(shared_data / "population" / "taetorter.osm.xml")),
        '"gotland-coverage"': repr(str(tmp_path / "coverage")),
    }


def test_every_import_of_the_example_is_a_public_name_of_its_new_path() -> None:
    imports = re.findall(r"^from (planner[\w.]*) import (.+)$", readme_example(), flags=re.M)
    assert imports
    for module, names in imports:
        assert module.count(".") >= 1 and not any(p.startswith("_") for p in module.split("."))
        loaded = __import__(module, fromlist=["__all__"])
        for name in (n.strip() for n in names.split(",")):
            assert name in loaded.__all__, f"{module} does not export {name}"


@pytest.mark.slow
def test_the_readme_python_api_example_runs(shared_data: Path, tmp_path: Path) -> None:
    code = readme_example()
    for old, new in placeholders(shared_data, tmp_path).items():
        assert old in code, f"the README example no longer names {old}; update this test"
        code = code.replace(old, new)
    report = tmp_path / "report.json"
    check = f"""
json.dump({{
    "stations": list(stations["name"]),
    "table_rows": len(table), "nodes": net.graph.number_of_nodes(),
    "demand": float(demand["weight"].sum()),
    "total_demand": float(result.tables["total"]["demand"].iloc[0]),
    "sites": list(plus2.sites["site"]),
    "saved": [float(v) for v in plus2.sites["person_minutes_saved"]],
}}, open({str(report)!r}, "w"))
"""
    script = tmp_path / "readme_api.py"
    script.write_text(
        "import json\n\nif __name__ == '__main__':\n" + textwrap.indent(code + check, "    "),
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(report.read_text(encoding="utf-8"))
    assert got["stations"] == ["Mariatorget", "Skanstull"]
    assert got["table_rows"] == got["nodes"] > 30  # nearest station for every road node
    assert got["demand"] > 1_000_000  # Stockholm county's tätorter
    assert got["total_demand"] == pytest.approx(got["demand"])
    assert len(got["sites"]) == 2 and all(v >= 0 for v in got["saved"])
    written = pd.read_csv(tmp_path / "coverage" / "coverage_municipality.csv", dtype=str)
    assert "0180" in set(written["municipality_code"])  # Stockholm, where the extract is
    assert "Stockholm" in done.stdout

"""The ``[cluster]`` section's strings become lines of a job script (``#SBATCH --key=value``):
none may add a line of the study file's choosing."""

from __future__ import annotations

from pathlib import Path

import pytest

from automl.cluster.settings import ClusterSection
from automl.config import load
from automl.errors import ConfigError


@pytest.mark.parametrize("table, field", [
    ('partition = "gpu\\n#SBATCH --output=/tmp/x\\ntouch /tmp/y"', "partition"),
    ('account = "lab\\r"', "account"),
    ('log_dir = "jobs\\u001b"', "log_dir"),
    ('sbatch = { qos = "high\\n#SBATCH --output=/tmp/x" }', "sbatch.qos"),
    ('sbatch = { qos = { a = 1 } }', "sbatch.qos"),
    ('sbatch = { qos = [1, 2] }', "sbatch.qos"),
    ('sbatch = { "bad key" = "x" }', "sbatch"),
    ('sbatch = { "--output" = "x" }', "sbatch"),
])
def test_cluster_strings_cannot_add_lines_to_a_job_script(tmp_path: Path, table: str,
                                                          field: str) -> None:
    """Each becomes a ``#SBATCH`` line of a job script: a line break in one would add a line of
    the study file's choosing (a command, another output path)."""
    f = tmp_path / "s.toml"
    f.write_text(f'[cluster]\nlauncher = "slurm"\n{table}\n')
    with pytest.raises(ConfigError, match=f"cluster: {field}") as err:
        load(f)
    assert "\n" not in str(err.value)
    ok = ClusterSection(sbatch={"qos": "high", "mem-per-cpu": 4000, "exclusive": True})
    assert ok.sbatch["mem-per-cpu"] == 4000

"""Files that are there but odd: a study file saved with a byte-order mark, a folder or a pipe
given as data, a bundle asked for a graph it was not exported with."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from automl.config import load
from automl.data import load_source
from automl.errors import DataError
from automl.export.errors import BundleError


def test_a_study_file_with_a_byte_order_mark_reads_as_without(tmp_path: Path) -> None:
    f = tmp_path / "s.toml"
    f.write_bytes(b"\xef\xbb\xbf" + b'[study]\nname = "bom"\n')  # as some editors save it
    assert load(f).study.name == "bom"


@pytest.mark.parametrize("suffix", [".csv", ".npz"])
def test_a_folder_or_a_pipe_as_data_says_what_it_is(tmp_path: Path, suffix: str) -> None:
    folder = tmp_path / f"d{suffix}"
    folder.mkdir()
    pipe = tmp_path / f"p{suffix}"
    os.mkfifo(pipe)
    for path in (folder, pipe):  # never opened: a pipe would block the read
        with pytest.raises(DataError, match=r"not a regular file \(a folder, a pipe\?\)"):
            load_source(str(path))
    with pytest.raises(DataError, match="data file not found"):
        load_source(str(tmp_path / f"absent{suffix}"))


def test_a_missing_int8_graph_names_the_option_that_makes_it(tmp_path: Path) -> None:
    from automl.export import onnx_io

    with pytest.raises(BundleError, match=r"no model.int8.onnx \(export with --quantize int8\)"):
        onnx_io.session(tmp_path / "model.int8.onnx")
    with pytest.raises(BundleError, match=r"no model.onnx \(export with --onnx\)"):
        onnx_io.session(tmp_path / "model.onnx")

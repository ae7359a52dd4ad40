"""labkit.lab.notebook.markdown_table: the tables notebooks print (and panels show) under their figures."""

from __future__ import annotations

from labkit.lab.notebook import markdown_table


def test_floats_get_decimals_and_flops_sized_floats_significant_digits():
    rows = [{"arm": "rl", "accuracy": 0.5, "flops": 647660544.0, "n": 3, "note": None}]
    assert markdown_table(rows).splitlines() == [
        "| arm | accuracy | flops | n | note |",
        "|---|---|---|---|---|",
        "| rl | 0.500 | 6.48e+08 | 3 |  |",
    ]
    assert markdown_table([{"x": -2.5e7, "y": 999999.0}], digits=2).splitlines()[-1] == "| -2.5e+07 | 999999.00 |"


def test_pipes_and_newlines_do_not_break_the_row():
    assert markdown_table([{"sample": "a|b\nc"}]).splitlines()[-1] == "| a\\|b c |"

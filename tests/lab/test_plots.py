"""labkit.lab.plots: what a reader needs to read off the figures (here: the grid's numbers on their cells)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from labkit.lab import plots  # noqa: E402


@pytest.mark.parametrize("higher_is_better", [True, False])
def test_heatmap_writes_dark_ink_on_light_cells_and_light_ink_on_dark_ones(higher_is_better):
    grid = [[0.10, 0.15], [0.20, 0.25]]
    fig = plots.heatmap(grid, [0, 1], [0, 1], title="t", cbar="c", higher_is_better=higher_is_better)
    texts = {t.get_text().split()[0]: t.get_color() for t in fig.axes[0].texts}
    light, dark = ("0.250", "0.100") if higher_is_better else ("0.100", "0.250")  # viridis: yellow at its top end
    assert texts[light] == "black" and texts[dark] == "white"
    matplotlib.pyplot.close(fig)

"""Batch runs of the notebooks and the report (a leaf beside labkit.lab: nothing in the core imports it).

layout     the runs folder: run ids, "is this run finished?", JSON files
batch      papermill runs over grids, locally or on Ray (never writes the report)
needs      what a batch's runs need before the first starts (the papers' data files)
report     results.csv and report.md/html from a runs folder
reproduce  entry points: a batch, then the report (what the CLI calls)
"""

from labkit._lazy import lazy_submodules

__getattr__, __dir__, _SUBMODULES = lazy_submodules(__name__, __path__, globals())

"""The notebooks' layer (a leaf: nothing in the core or labkit.methods imports it).

  arms       the experiment layer: Arm, Run, one arms x seeds runner over forked workers, the aggregators
  profiles   every notebook's profile table; Profile, the typed frozen settings a notebook resolves once
  params     parameter checks (check_parameters) with messages naming the parameter
  claims     paper claims measured over seeds (effects, Student-t interval, holds), readings filled from numbers
  metrics    metrics.json (write_metrics / read_metrics), Timer, versions
  papers     the papers each notebook reproduces; every claim's statement and reading, once
  plots      matplotlib figures, drawn from the numbers in metrics.json
  widgets    ipywidgets panels writing back to the notebook's variables
  notebook   live kernel or headless, CPU threads, text side by side
  students   notebooks 01/02: rationale-distilled students (data, arms, the experiment, claims)
  whitebox   notebooks 03/04: white-box KD students (kit, arms, the experiment, one batch, claims)
  survey     notebook 05: the survey's miniatures
  survey_regimes  notebook 05: each miniature's effect swept over the knob of its regime
  xtok       notebook 06: cross-tokenizer KD

Submodules load lazily: ``lk.lab.plots`` imports matplotlib only when used.
"""

from labkit._lazy import lazy_submodules

__getattr__, __dir__, _SUBMODULES = lazy_submodules(__name__, __path__, globals())

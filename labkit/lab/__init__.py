"""The notebooks' layer (a leaf: nothing in the core or labkit.methods imports it).

  profiles   every notebook's profile table; PROFILES
  params     parameter checks (check_parameters) with messages naming the parameter
  claims     paper claims measured over seeds (effects, Student-t interval, holds)
  metrics    metrics.json (write_metrics / read_metrics), Timer, versions
  papers     the papers each notebook reproduces, keyed by notebook file name
  plots      matplotlib figures, drawn from the numbers in metrics.json
  widgets    ipywidgets panels writing back to the notebook's variables
  notebook   live kernel or headless, CPU threads, text side by side
  multitask  notebooks 01/02: train a multi-task student and score it
  whitebox   notebooks 03/04: white-box KD students (data, training, evaluation)

Submodules load lazily: ``lk.lab.plots`` imports matplotlib only when used.
"""
from labkit._lazy import lazy_submodules

__getattr__, __dir__, _SUBMODULES = lazy_submodules(__name__, __path__, globals())

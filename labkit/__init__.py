"""labkit: a small library for a hands-on lab on knowledge distillation from LLMs.

Notebooks use one alias, ``import labkit as lk``; every module and subpackage (``lk.losses``,
``lk.methods``, ``lk.lab``, ``lk.runs`` ...) loads lazily on first use, so that ``lk.losses`` does not pay
for ``transformers`` and ``lk.models`` does not pay for ``matplotlib``. The list is read from the package
folder (pkgutil), so it cannot drift from the files.

Layers (docs/methods.md explains the methods; the README's tour maps the files):
  core      models, tiny, data, answers, prompts, rationales, losses, sequences, loop, evaluate, modeseek
  methods/  one module per distillation method
  lab/      notebook glue: profiles, parameter checks, metrics.json, papers, plots, widgets (a leaf)
  runs/     batch runs of the notebooks and the report
"""

from labkit._lazy import lazy_submodules

__version__ = "0.1.0"

__getattr__, __dir__, _SUBMODULES = lazy_submodules(__name__, __path__, globals())

"""``tpsim explore``: a local web app that moves an option's levers and assumptions as sliders
and shows the appraisal at once (docs/explore.md).

* :mod:`tpsim.explore.controls`: the sliders (what each moves, its unit, range and sourced
  default) and the turning of a session's settings into validated scenarios;
* :mod:`tpsim.explore.engine`: the warm model: one batched kernel call for the arms of every
  session waiting, the appraisal of each view, the uncertainty band, saves and the report;
* :mod:`tpsim.explore.server`: the HTTP server (standard library, threads), its JSON API and
  the sessions;
* ``static/``: the page, its script and style (no library, nothing fetched at run time).
"""

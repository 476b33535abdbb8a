"""One module per ``tpsim`` sub-command; each defines a click command registered in tpsim.cli."""

"""``python -m tpsim.cli ...``: the ``tpsim`` command (for a checkout that is not installed)."""
from tpsim.cli import main

main(prog_name="tpsim")

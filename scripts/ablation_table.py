"""The table of a sweep or run folder: the same table an ``iim-train -m`` sweep ends with (``iim.cli.sweep_table``).

python scripts/ablation_table.py [FOLDER]              # default logs/shhb_ablation (scripts/shhb_ablation.sh's runs)
python scripts/ablation_table.py logs/train/multiruns/<date> --markdown     # Markdown, e.g. for the README
python scripts/ablation_table.py FOLDER --csv | --write                      # CSV; or also write sweep_table.csv/.md

FOLDER is one run folder or a folder of runs (a Hydra sweep folder, logs/shhb_ablation). Each run's figures come from
its summary.json, or, for runs from before those files, from its CSV log; runs evaluated by iim-eval next to them
(<row>/train and <row>/eval/metrics.json) also get the evaluation's columns.
"""

from __future__ import annotations

import sys

from iim.cli.sweep_table import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], default_folder="logs/shhb_ablation"))

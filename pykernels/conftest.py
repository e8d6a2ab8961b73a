"""pytest: the doctests of pykernels.sklearn need scikit-learn, an optional extra."""

import importlib.util

collect_ignore = [] if importlib.util.find_spec("sklearn") else ["sklearn.py"]

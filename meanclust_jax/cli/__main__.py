"""``python -m meanclust_jax.cli``: the same as the ``meanclust`` console script."""

import sys

from . import main

sys.exit(main())

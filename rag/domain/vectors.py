"""The array type of embeddings: float32, rows are L2-normalised vectors."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]

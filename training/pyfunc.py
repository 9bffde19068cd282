"""The MLflow pyfunc of a registered churn model, logged as code (MLflow models-from-code).

MLflow runs this file when the model is logged and again whenever it is loaded; the copy
logged with the version is the one that runs. It loads ``portable.py`` by file path (the copy
logged in the model's ``code/`` folder, or ``training/portable.py`` while logging), never
through the project's packages, so a version keeps loading after the project's modules
move. ``mlflow.pyfunc.load_model("models:/churn-risk@champion").predict(snapshot_rows)``
returns the calibrated churn probability per row; ``unwrap_python_model().artifact`` is
the booster and metadata serving rebuilds its :class:`~training.model.ChurnModel` from.
"""

from __future__ import annotations

import importlib.util
import sys
import uuid
import warnings
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import set_model


def _portable():
    """``portable.py`` as a module of its own (one per model loaded): the copy logged in the
    model's ``code/`` folder, or the one beside this file while the model is being logged."""
    here = Path(__file__).parent
    path = next(p for p in (here / "code" / "portable.py", here / "portable.py") if p.is_file())
    name = f"churn_portable_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


portable = _portable()

with warnings.catch_warnings(record=True):
    # MLflow 3 warns at class creation when predict() has no type hints. It has none on
    # purpose: the model is logged with an explicit column signature, and MLflow's
    # type-hint signatures only describe list inputs. MLflow re-enables the warning with
    # its own filter, so it is recorded (and dropped) here rather than filtered.

    class ChurnPyfunc(mlflow.pyfunc.PythonModel):
        """Snapshot rows in, calibrated churn probability out."""

        def load_context(self, context):
            self.artifact = portable.read(Path(context.artifacts[portable.ARTIFACT_KEY]))

        def predict(self, context, model_input, params=None):
            return self.artifact.predict_proba(pd.DataFrame(model_input))


set_model(ChurnPyfunc())

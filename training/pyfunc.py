"""The MLflow pyfunc face of a :class:`~training.model.ChurnModel`.

``mlflow.pyfunc.load_model("models:/churn-risk@champion").predict(snapshot_rows)`` returns
the calibrated churn probability per row; ``unwrap_python_model().model`` is the full
ChurnModel (booster for SHAP, thresholds, categorical levels) that serving uses.
"""

from __future__ import annotations

import warnings

import joblib
import mlflow
import pandas as pd

MODEL_ARTIFACT = "churn_model"

with warnings.catch_warnings(record=True):
    # MLflow 3 warns at class creation when predict() has no type hints. It has none on
    # purpose: the model is logged with an explicit column signature, and MLflow's
    # type-hint signatures only describe list inputs. MLflow re-enables the warning with
    # its own filter, so it is recorded (and dropped) here rather than filtered.

    class ChurnPyfunc(mlflow.pyfunc.PythonModel):
        """Snapshot rows in, calibrated churn probability out."""

        def load_context(self, context):
            self.model = joblib.load(context.artifacts[MODEL_ARTIFACT])

        def predict(self, context, model_input, params=None):
            return self.model.predict_proba(pd.DataFrame(model_input))

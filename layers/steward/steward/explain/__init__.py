"""Explanations: per-record feature attributions for every kind of model Steward serves.

Pure numpy over the loaded runtimes (no AWS, storage or heavy model library): exact
interventional TreeSHAP over ONNX and scikit-learn tree ensembles (:mod:`.trees`), exact
attributions of linear and logistic models, points below each scorecard characteristic's
maximum, and the rule that fired (:mod:`.explainer`).
"""

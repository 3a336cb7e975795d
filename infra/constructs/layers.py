"""The Lambda layers: the ``steward`` library and the dependency sets."""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.constructs.bundling import deps_layer_code, steward_layer_code
from infra.constructs.function import RUNTIME


class Layers(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.steward = self._layer("Steward", steward_layer_code(), "steward library")
        self.core = self._layer("Core", deps_layer_code("core"), "pydantic, powertools")
        self.numpy = self._layer("Numpy", deps_layer_code("numpy"), "numpy")
        self.arrow = self._layer("Arrow", deps_layer_code("arrow"), "pyarrow")
        self.onnx = self._layer("Onnx", deps_layer_code("onnx"), "onnxruntime")

    def _layer(self, construct_id: str, code: lambda_.Code, what: str) -> lambda_.LayerVersion:
        return lambda_.LayerVersion(
            self,
            construct_id,
            code=code,
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[lambda_.Architecture.X86_64],
            description=f"Steward: {what}",
        )

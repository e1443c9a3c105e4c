"""The functions of ``template.yaml`` as a benchmark needs them: code, handler, layers, env.

Everything is read from the template (Globals merged, parameter defaults and ``AWS::*``
pseudo parameters resolved), so the benchmark follows when functions are added or renamed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.stack import REPO_ROOT, load_template

SERVERLESS_FUNCTION = "AWS::Serverless::Function"
SERVERLESS_LAYER = "AWS::Serverless::LayerVersion"


@dataclass(frozen=True)
class TemplateFunction:
    logical_id: str
    handler: str
    code_dir: Path
    layer_dirs: tuple[Path, ...]
    environment: Mapping[str, str]
    memory: int
    runtime: str

    @property
    def module(self) -> str:
        return self.handler.rpartition(".")[0]


class _Refs:
    """``Ref`` / ``Fn::Sub`` on parameters (their defaults) and pseudo parameters; a ``Ref`` or
    ``Fn::GetAtt`` on a resource becomes a placeholder name (imports do not read it)."""

    def __init__(self, template: Mapping[str, Any], stack_name: str, region: str) -> None:
        self.values = {
            "AWS::StackName": stack_name,
            "AWS::Region": region,
            "AWS::AccountId": "123456789012",
            "AWS::Partition": "aws",
        }
        for name, definition in (template.get("Parameters") or {}).items():
            if "Default" in definition:
                self.values[name] = str(definition["Default"])

    def text(self, node: Any) -> str:
        if isinstance(node, dict) and "Ref" in node:
            return self.values.get(node["Ref"], f"{self.values['AWS::StackName']}-{node['Ref']}")
        if isinstance(node, dict) and "Fn::GetAtt" in node:
            target = node["Fn::GetAtt"]
            return ".".join(target) if isinstance(target, list) else str(target)
        if isinstance(node, dict) and "Fn::Sub" in node and isinstance(node["Fn::Sub"], str):
            text = node["Fn::Sub"]
            for name, value in self.values.items():
                text = text.replace("${" + name + "}", value)
            return text
        return str(node)


def _merged(globals_: Mapping[str, Any], props: Mapping[str, Any]) -> dict[str, Any]:
    """SAM's Globals rules for what we read: maps merge, lists append, scalars override."""
    merged = dict(globals_)
    for key, value in props.items():
        if key == "Environment":
            variables = {
                **(globals_.get("Environment") or {}).get("Variables", {}),
                **(value or {}).get("Variables", {}),
            }
            merged[key] = {"Variables": variables}
        elif key == "Layers":
            merged[key] = [*(globals_.get("Layers") or []), *value]
        else:
            merged[key] = value
    return merged


def _layer_dirs(layers: list[Any], resources: Mapping[str, Any], base: Path) -> tuple[Path, ...]:
    dirs = []
    for layer in layers:
        logical_id = layer.get("Ref") if isinstance(layer, dict) else None
        resource = resources.get(logical_id or "", {})
        content = (resource.get("Properties") or {}).get("ContentUri")
        if resource.get("Type") == SERVERLESS_LAYER and isinstance(content, str):
            dirs.append((base / content).resolve())
    return tuple(dirs)


def template_functions(
    template_path: Path = REPO_ROOT / "template.yaml",
    *,
    stack_name: str = "private-api-provisioner",
    region: str = "us-east-1",
) -> list[TemplateFunction]:
    """Every ``AWS::Serverless::Function`` with a local ``CodeUri``, in template order."""
    template = load_template(template_path)
    base = template_path.parent
    refs = _Refs(template, stack_name, region)
    globals_ = (template.get("Globals") or {}).get("Function") or {}
    resources = template.get("Resources") or {}
    functions = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != SERVERLESS_FUNCTION:
            continue
        props = _merged(globals_, resource.get("Properties") or {})
        if not isinstance(props.get("CodeUri"), str):
            continue
        variables = (props.get("Environment") or {}).get("Variables") or {}
        functions.append(
            TemplateFunction(
                logical_id=logical_id,
                handler=refs.text(props.get("Handler", "app.handler")),
                code_dir=(base / props["CodeUri"]).resolve(),
                layer_dirs=_layer_dirs(props.get("Layers") or [], resources, base),
                environment={k: refs.text(v) for k, v in variables.items()},
                memory=int(props.get("MemorySize", 128)),
                runtime=str(props.get("Runtime", "python3.13")),
            )
        )
    return functions

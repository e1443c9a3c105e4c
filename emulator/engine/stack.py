"""Deploy ``template.yaml`` into a running moto over HTTP, from the template itself.

The SAM template is transformed offline with ``samtranslator`` (local ``CodeUri`` /
``ContentUri`` / ``DefinitionUri`` are first replaced by placeholder S3 URIs, as ``sam
package`` would, and remembered), then each CloudFormation resource is created through boto3
in dependency order, with ``Ref`` / ``Fn::GetAtt`` / ``Fn::Sub`` / ``Fn::Join`` / ``Fn::Select``
/ ``Fn::If`` and parameters resolved. Nothing about the stack is restated here: functions,
environments, state machines and their substitutions all come from the template, so the
emulator follows when the template changes.

Lambda code is not uploaded (a placeholder zip is): :mod:`emulator.engine.lambda_runtime` runs the
real handlers from the ``FunctionSpec`` this module returns. What ``Ref`` and ``Fn::GetAtt``
return is CloudFormation's documented value for each type (e.g. a secret's ``Ref`` is its ARN,
a parameter's its name, an event source mapping's its UUID), except ``AWS::Lambda::Url``'s
``FunctionUrl``: the URL this emulator serves (:mod:`emulator.engine.function_urls`). Names
CloudFormation would generate (``<stack>-<LogicalId>``, a secret's ``<LogicalId>-<suffix>``, a
parameter's ``CFN-<LogicalId>-<suffix>``) are stable per stack here.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import io
import json
import logging
import re
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from emulator.engine.lambda_runtime import FunctionSpec

LOG = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parents[2]
ACCOUNT_ID = "123456789012"
CODE_BUCKET = "emulator-local-code"
_LOCAL_URI_KEYS = ("CodeUri", "ContentUri", "DefinitionUri")
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")
# What Ref AWS::NoValue resolves to: the property or list item it stands for is left out.
_NO_VALUE = "\x00AWS::NoValue"


@dataclass(frozen=True)
class PhysicalResource:
    """A created (or skipped) resource: what ``Ref`` and ``Fn::GetAtt`` return for it."""

    logical_id: str
    type: str
    ref: str
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass
class DeployedStack:
    """The outcome of :func:`deploy`."""

    stack_name: str
    region: str
    outputs: dict[str, str]
    resources: dict[str, PhysicalResource]
    functions: dict[str, FunctionSpec]
    skipped: dict[str, str]
    template: dict[str, Any]


class TemplateError(Exception):
    """The template cannot be transformed or resolved."""


# --- transform ------------------------------------------------------------------------------
def load_template(template_path: Path) -> dict[str, Any]:
    """The template, parsed once per version of the file (a pure-Python YAML parse of ours
    takes a fifth of a second, and every unit test reads the ledger table's declaration); a
    copy each time, which the caller may change."""
    text = template_path.read_text(encoding="utf-8")
    return copy.deepcopy(_parsed(text))


@functools.lru_cache(maxsize=8)
def _parsed(text: str) -> dict[str, Any]:
    from samtranslator.yaml_helper import yaml_parse

    template: dict[str, Any] = yaml_parse(text)
    return template


def transform(
    sam_template: dict[str, Any],
    base_dir: Path,
    stack_name: str,
    region: str,
    parameters: Mapping[str, str],
) -> tuple[dict[str, Any], dict[str, Path]]:
    """SAM → CloudFormation; returns it with the map placeholder S3 key → local path."""
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    template = copy.deepcopy(sam_template)
    local_paths: dict[str, Path] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties") or {}
        for key in _LOCAL_URI_KEYS:
            value = properties.get(key)
            if isinstance(value, str) and not value.startswith("s3://"):
                s3_key = f"{logical_id}/{key}"
                local_paths[s3_key] = (base_dir / value).resolve()
                properties[key] = f"s3://{CODE_BUCKET}/{s3_key}"
    session = boto3.Session(
        region_name=region, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    translator = Translator(None, Parser(), boto_session=session)
    values: dict[str, Any] = {"AWS::AccountId": ACCOUNT_ID, "AWS::StackName": stack_name}
    values.update(parameters)
    try:
        # No AWS managed policy map: SAM then keeps managed policy ARNs as written.
        cfn = translator.translate(template, values, get_managed_policy_map=lambda: {})
    except Exception as exc:
        raise TemplateError(f"SAM transform failed: {exc}") from exc
    return cfn, local_paths


# --- intrinsic functions ---------------------------------------------------------------------
class Resolver:
    """Resolves intrinsics against parameters, pseudo parameters and created resources."""

    def __init__(
        self, parameters: Mapping[str, str], conditions: Mapping[str, bool] | None = None
    ) -> None:
        self.parameters = dict(parameters)
        self.conditions = dict(conditions or {})
        self.resources: dict[str, PhysicalResource] = {}

    def ref(self, name: str) -> str:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        if name in self.resources:
            return self.resources[name].ref
        raise TemplateError(f"unresolvable Ref {name}")

    def get_att(self, logical_id: str, attribute: str) -> str:
        resource = self.resources.get(logical_id)
        if resource is None or attribute not in resource.attributes:
            raise TemplateError(f"unresolvable Fn::GetAtt {logical_id}.{attribute}")
        return resource.attributes[attribute]

    def sub(self, text: str, variables: Mapping[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(self.resolve(variables[name]))
            if "." in name and name.split(".", 1)[0] in self.resources:
                return self.get_att(*name.split(".", 1))
            return self.ref(name)

        return _SUB_VARIABLE.sub(replace, text).replace("${!", "${")

    def resolve(self, node: Any) -> Any:  # noqa: C901 - one branch per intrinsic
        if isinstance(node, list):
            return [item for item in map(self.resolve, node) if item is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, value),) = node.items()
            if key == "Ref":
                return self.ref(value)
            if key == "Fn::GetAtt":
                logical_id, attribute = value if isinstance(value, list) else value.split(".", 1)
                return self.get_att(logical_id, attribute)
            if key == "Fn::Sub":
                text, variables = (value, {}) if isinstance(value, str) else value
                return self.sub(text, variables)
            if key == "Fn::Join":
                return str(value[0]).join(str(v) for v in self.resolve(value[1]))
            if key == "Fn::Select":
                return self.resolve(value[1])[int(self.resolve(value[0]))]
            if key == "Fn::Split":
                return str(self.resolve(value[1])).split(value[0])
            if key == "Fn::If":
                branch = value[1] if self.conditions.get(value[0], False) else value[2]
                return self.resolve(branch)
        resolved = {k: self.resolve(v) for k, v in node.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}


def dependencies(node: Any) -> set[str]:
    """Logical ids (and parameter names) a template node refers to."""
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= dependencies(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else value.split(".", 1)[0])
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                found |= {m.split(".", 1)[0] for m in _SUB_VARIABLE.findall(text)}
                if not isinstance(value, str):
                    found |= dependencies(value[1])
            else:
                found |= dependencies(value)
    return found


def creation_order(resources: Mapping[str, Any]) -> list[str]:
    """Topological order of the resources (template order among independent ones)."""
    deps = {}
    for logical_id, resource in resources.items():
        depends_on = resource.get("DependsOn") or []
        depends_on = [depends_on] if isinstance(depends_on, str) else depends_on
        refs = dependencies(resource.get("Properties") or {}) | set(depends_on)
        deps[logical_id] = {d for d in refs if d in resources and d != logical_id}
    order: list[str] = []
    placed: set[str] = set()
    for _ in range(len(resources) + 1):
        ready = [r for r in resources if r not in placed and deps[r] <= placed]
        if not ready:
            break
        order.extend(ready)
        placed.update(ready)
    missing = [r for r in resources if r not in placed]
    if missing:
        raise TemplateError(f"circular dependencies between {missing}")
    return order


def _conditions(cfn: Mapping[str, Any], parameters: Mapping[str, str]) -> dict[str, bool]:
    """Evaluate ``Conditions`` (Fn::Equals / Not / And / Or / Condition) on the parameters."""
    resolver = Resolver(parameters)
    raw = cfn.get("Conditions") or {}
    values: dict[str, bool] = {}

    def evaluate(node: Any) -> bool:
        ((key, value),) = node.items()
        if key == "Fn::Equals":
            left, right = (resolver.resolve(v) for v in value)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not evaluate(value[0])
        if key == "Fn::And":
            return all(evaluate(v) for v in value)
        if key == "Fn::Or":
            return any(evaluate(v) for v in value)
        if key == "Condition":
            return values.setdefault(value, evaluate(raw[value]))
        raise TemplateError(f"unsupported condition {key}")

    for name, node in raw.items():
        values.setdefault(name, evaluate(node))
    return values


# --- resource creation -----------------------------------------------------------------------
def _placeholder_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README", "The emulator runs the real code from the repository.\n")
    return buffer.getvalue()


def _physical_name(stack_name: str, logical_id: str, limit: int = 64) -> str:
    return f"{stack_name}-{logical_id}"[:limit]


def _tags_dict(tags: Any) -> dict[str, str]:
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    return {t["Key"]: str(t["Value"]) for t in tags or []}


def _attribute_text(value: Any) -> str:
    """A CloudFormation property value as an SQS/SNS attribute string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def _truthy(value: Any) -> bool:
    """A CloudFormation boolean: true, or the string ``"true"`` in any case."""
    return value is True or str(value).lower() == "true"


def _suffix(stack_name: str, logical_id: str, length: int = 12) -> str:
    """The random-looking suffix CloudFormation gives generated names, stable per stack."""
    digest = hashlib.sha256(f"{stack_name}/{logical_id}".encode()).hexdigest()
    return digest[:length].upper()


_EVENT_SOURCE_MAPPING_KEYS = (
    "EventSourceArn",
    "FunctionName",
    "BatchSize",
    "Enabled",
    "FunctionResponseTypes",
    "MaximumBatchingWindowInSeconds",
    "ScalingConfig",
    "FilterCriteria",
    "StartingPosition",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "BisectBatchOnFunctionError",
    "ParallelizationFactor",
    "DestinationConfig",
    "TumblingWindowInSeconds",
)
_SUBSCRIPTION_ATTRIBUTES = (
    "RawMessageDelivery",
    "FilterPolicy",
    "FilterPolicyScope",
    "RedrivePolicy",
    "DeliveryPolicy",
    "SubscriptionRoleArn",
    "ReplayPolicy",
)
_PASSWORD_FLAGS = (
    "ExcludeLowercase",
    "ExcludeNumbers",
    "ExcludePunctuation",
    "ExcludeUppercase",
    "IncludeSpace",
    "RequireEachIncludedType",
)


def _lower_first(node: Any) -> Any:
    """CloudFormation's PascalCase property shapes → the Step Functions API's camelCase."""
    if isinstance(node, list):
        return [_lower_first(item) for item in node]
    if isinstance(node, dict):
        return {k[:1].lower() + k[1:]: _lower_first(v) for k, v in node.items()}
    return node


class _Deployer:
    """Creates resources through boto3 clients pointed at the emulator."""

    def __init__(
        self,
        endpoint_url: str,
        region: str,
        stack_name: str,
        local_paths: Mapping[str, Path],
        resolver: Resolver,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self.stack_name = stack_name
        self.local_paths = local_paths
        self.resolver = resolver
        self.functions: dict[str, FunctionSpec] = {}
        self.layer_dirs: dict[str, Path] = {}
        self._session = boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
        )
        self._clients: dict[str, Any] = {}
        self.handlers: dict[str, Callable[[str, dict[str, Any]], PhysicalResource]] = {
            "AWS::IAM::Role": self.iam_role,
            "AWS::IAM::ManagedPolicy": self.iam_managed_policy,
            "AWS::Lambda::LayerVersion": self.layer_version,
            "AWS::Lambda::Function": self.function,
            "AWS::Lambda::Permission": self.function_permission,
            "AWS::Lambda::Url": self.function_url,
            "AWS::Lambda::EventSourceMapping": self.event_source_mapping,
            "AWS::KMS::Key": self.kms_key,
            "AWS::SNS::Topic": self.sns_topic,
            "AWS::SNS::TopicPolicy": self.sns_topic_policy,
            "AWS::SNS::Subscription": self.sns_subscription,
            "AWS::SQS::Queue": self.sqs_queue,
            "AWS::SQS::QueuePolicy": self.sqs_queue_policy,
            "AWS::Logs::LogGroup": self.log_group,
            "AWS::Events::EventBus": self.event_bus,
            "AWS::Events::Rule": self.event_rule,
            "AWS::StepFunctions::StateMachine": self.state_machine,
            "AWS::DynamoDB::Table": self.dynamodb_table,
            "AWS::SecretsManager::Secret": self.secret,
            "AWS::SSM::Parameter": self.ssm_parameter,
            "AWS::CloudWatch::Alarm": self.cloudwatch_alarm,
        }

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(
                service,  # type: ignore[call-overload]
                endpoint_url=self.endpoint_url,
                config=Config(retries={"max_attempts": 2, "mode": "standard"}),
            )
        return self._clients[service]

    def arn(self, service: str, resource: str, region: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if region else ''}:{ACCOUNT_ID}:{resource}"

    # one method per resource type: (logical id, resolved properties) -> PhysicalResource
    def iam_role(self, logical_id: str, props: dict[str, Any]) -> PhysicalResource:
        iam = self.client("iam")
        name = props.get("RoleName") or _physical_name(self.stack_name, logical_id)
        role = iam.create_role(
            RoleName=name,
            Path=props.get("Path", "/"),
            AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"]),
            Tags=[{"Key": k, "Value": v} for k, v in _tags_dict(props.get("Tags")).items()],
        )["Role"]
        for policy in props.get("Policies") or []:
            # SAM's policy templates omit Version; IAM accepts that, moto insists on one.
            document = {"Version": "2012-10-17", **policy["PolicyDocument"]}
            iam.put_role_policy(
                RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(document)
            )
        for policy_arn in props.get("ManagedPolicyArns") or []:
            try:
                iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
            except ClientError:  # moto does not load AWS managed policies by default
                LOG.debug("managed policy %s not attached to %s", policy_arn, name)
        return PhysicalResource(
            logical_id, "AWS::IAM::Role", name, {"Arn": role["Arn"], "RoleId": role["RoleId"]}
        )

    def iam_managed_policy(self, logical_id: str, props: dict[str, Any]) -> PhysicalResource:
        name = props.get("ManagedPolicyName") or _physical_name(self.stack_name, logical_id)
        policy = self.client("iam").create_policy(
            PolicyName=name,
            Path=props.get("Path", "/"),
            PolicyDocument=json.dumps(props["PolicyDocument"]),
            Description=props.get("Description", ""),
        )["Policy"]
        return PhysicalResource(
            logical_id, "AWS::IAM::ManagedPolicy", policy["Arn"], {"PolicyArn": policy["Arn"]}
        )

    def layer_version(self, logical_id: str, props: dict[str, Any]) -> PhysicalResource:
        content = props.get("Content") or {}
        kwargs: dict[str, Any] = {
            "LayerName": props.get("LayerName") or _physical_name(self.stack_name, logical_id),
            "Description": props.get("Description", ""),
            "Content": {"ZipFile": _placeholder_zip()},
        }
        if props.get("CompatibleRuntimes"):
            kwargs["CompatibleRuntimes"] = props["CompatibleRuntimes"]
        if props.get("CompatibleArchitectures"):
            kwargs["CompatibleArchitectures"] = props["CompatibleArchitectures"]
        layer = self.client("lambda").publish_layer_version(**kwargs)
        arn = layer["LayerVersionArn"]
        local = self.local_paths.get(content.get("S3Key", ""))
        if local is not None:
            self.layer_dirs[arn] = local
        return PhysicalResource(logical_id, "AWS::Lambda::LayerVersion", arn, {})

    def function(self, logical_id: str, props: dict[str, Any]) -> PhysicalResource:
        name = props.get("FunctionName") or _physical_name(self.stack_name, logical_id)
        variables = {
            k: str(v) for k, v in ((props.get("Environment") or {}).get("Variables") or {}).items()
        }
        kwargs: dict[str, Any] = {
            "FunctionName": name,
            "Runtime": props.get("Runtime", "python3.13"),
            "Role": props["Role"],
            "Handler": props.get("Handler", "app.handler"),
            "Code": {"ZipFile": _placeholder_zip()},
            "Description": props.get("Description", ""),
            "Timeout": int(props.get("Timeout", 3)),
            "MemorySize": int(props.get("MemorySize", 128)),
            "Environment": {"Variables": variables},
            "Layers": props.get("Layers") or [],
            "Tags": _tags_dict(props.get("Tags")),
        }
        for key in ("Architectures", "TracingConfig"):
            if props.get(key):
                kwargs[key] = props[key]
        function = self.client("lambda").create_function(**kwargs)
        code = self.local_paths.get((props.get("Code") or {}).get("S3Key", ""))
        if code is None:
            raise TemplateError(f"{logical_id}: only local CodeUri folders can be emulated")
        self.functions[logical_id] = FunctionSpec(
            logical_id=logical_id,
            name=name,
            arn=function["FunctionArn"],
            handler=kwargs["Handler"],
            code_dir=code,
            layer_dirs=tuple(self.layer_dirs[a] for a in kwargs["Layers"] if a in self.layer_dirs),
            environment=variables,
            timeout=kwargs["Timeout"],
            memory=kwargs["MemorySize"],
            runtime=kwargs["Runtime"],
        )
        return PhysicalResource(
            logical_id, "AWS::Lambda::Function", name, {"Arn": function["FunctionArn"]}
        )

    def function_permission(self, logical_id: str, props: dict[str, Any]) -> PhysicalResource:
        kwargs = {
            "FunctionName": props["FunctionName"],
            "StatementId": logical_id,
            "Action": props["Action"],
            "Principal": props["Principal"],
        }
        for key in (
            "SourceArn",
            "SourceAccount",
            "EventSourceToken",
            "PrincipalOrgID",
            "FunctionUrlAuthType",
        ):
            if props.get(key):
                kwargs[key] = props[key]
        if "InvokedViaFunctionUrl" in props:  # SAM adds it to a public function URL (Oct 2025)
            kwargs["InvokedViaFunctionUrl"] = _truthy(props["InvokedViaFunctionUrl"])
        self.client("lambda").add_permission(**kwargs)
        return PhysicalResource(logical_id, "AWS::Lambda::Permission", logical_id, {})

    def function_url(self, logical_id: str, props: dict[str, Any]) -> PhysicalResource:
        """``Ref``: the function's ARN; ``FunctionUrl``: the URL this emulator serves
        (:mod:`emulator.engine.function_urls`), not AWS's ``https://<url-id>.lambda-url...``."""
        kwargs: dict[str, Any] = {
            "FunctionName": props["TargetFunctionArn"],
            "AuthType": props["AuthType"],
        }
        for key in ("Cors", "InvokeMode"):
            if props.get(key):
                kwargs[key] = props[key]
        config = self.client("lambda").create_function_url_config(**kwargs)
        return PhysicalResource(
            logical_id,
            "AWS::Lambda::Url",
            config["FunctionArn"],
            {"FunctionArn": config["FunctionArn"], "FunctionUrl": config["FunctionUrl"]},
        )

    def event_source_mapping(self, logical_id: str, props: dict[str, Any]) -> PhysicalResource:
        """``Ref``: the mapping's UUID. SQS mappings are polled by
        :mod:`emulator.engine.event_sources`."""
        kwargs = {key: props[key] for key in _EVENT_SOURCE_MAPPING_KEYS if key in props}
        if "Enabled" in kwargs:
            kwargs["Enabled"] = _truthy(kwargs["Enabled"])
        for key in ("BatchSize", "MaximumBatchingWindowInSeconds"):
            if key in kwargs:
                kwargs[key] = int(kwargs[key])
        mapping = self.client("lambda").create_event_source_mapping(**kwargs)
        uuid = mapping["UUID"]
        arn = mapping.get("EventSourceMappingArn") or self.arn(
            "lambda", f"event-source-mapping:{uuid}"
        )
        return PhysicalResource(
            logical_id,
            "AWS::Lambda::EventSourceMapping",
            uuid,
            {"Id": uuid, "EventSourceMappingArn": arn},
        )

    def kms_key(self, logical_id: str, props: dict[str, Any]) -> PhysicalResource:
        kms = self.client("kms")
        kwargs: dict[str, Any] = {"Description": props.get("Description", "")}
        if props.get("KeyPolicy"):
            kwargs["Policy"] = json.dumps(props["KeyPolicy"])
        for key in ("KeyUsage", "KeySpec"):
            if props.get(key):
                kwargs[key] = props[key]
        key = kms.create_key(**kwargs)["KeyMetadata"]
        if props.get("EnableKeyRotation"):
            kms.enable_key_rotation(KeyId=key["KeyId"])
        return PhysicalResource(
            logical_id, "AWS::KMS::Key", key["KeyId"], {"Arn": key["Arn"], "KeyId": key["KeyId"]}
        )

    def sns_topic(self, logical_id: str, props: dict[str, Any]) -> PhysicalResource:
        name = props.get("TopicName") or _physical_name(self.stack_name, logical_id, 256)
        attributes = {
            k: str(props[k]) for k in ("KmsMasterKeyId", "DisplayName", "FifoTopic") if k in props
        }
        arn = self.client("sns").create_topic(Name=name, Attributes=attributes)["TopicArn"]
        return PhysicalResource(
            logical_id, "AWS::SNS::Topic", arn, {"TopicArn": arn, "TopicName": name}
        )

    def sns_topic_policy(self, logical_id: str, props: dict[str, Any]) -> PhysicalResource:
        for topic_arn in props["Topics"]:
            self.client("sns").set_topic_attributes(
                TopicArn=topic_arn,
                AttributeName="Policy",
                AttributeValue=json.dumps(props["PolicyDocument"]),
            )
        return PhysicalResource(logical_id, "AWS::SNS::TopicPolicy", logical_id, {})

    def sns_subscription(self, logical_id: str, props: dict[str, Any]) -> PhysicalResource:
        """``Ref`` and ``Arn``: the subscription's ARN. Its attributes (``RawMessageDelivery``,
        ``FilterPolicy``, ``FilterPolicyScope``, ...) are set in the Subscribe call itself."""
        attributes = {
            key: _attribute_text(props[key]) for key in _SUBSCRIPTION_ATTRIBUTES if key in props
        }
        arn = self.client("sns").subscribe(
            TopicArn=props["TopicArn"],
            Protocol=props["Protocol"],
            Endpoint=props["Endpoint"],
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        return PhysicalResource(logical_id, "AWS::SNS::Subscription", arn, {"Arn": arn})

    def sqs_queue(self, logical_id: str, props: dict[str, Any]) -> PhysicalResource:
        sqs = self.client("sqs")
        name = props.get("QueueName") or _physical_name(self.stack_name, logical_id, 80)
        attributes = {
            k: _attribute_text(v) for k, v in props.items() if k not in ("QueueName", "Tags")
        }
        url = sqs.create_queue(
            QueueName=name, Attributes=attributes, tags=_tags_dict(props.get("Tags"))
        )["QueueUrl"]
        arn = self.arn("sqs", name)
        return PhysicalResource(
            logical_id, "AWS::SQS::Queue", url, {"Arn": arn, "QueueName": name, "QueueUrl": url}
        )

    def sqs_queue_policy(self, logical_id: str, props: dict[str, Any]) -> PhysicalResource:
        for url in props["Queues"]:
            self.client("sqs").set_queue_attributes(
                QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])}
            )
        return PhysicalResource(logical_id, "AWS::SQS::QueuePolicy", logical_id, {})

    def log_group(self, logical_id: str, props: dict[str, Any]) -> PhysicalResource:
        logs = self.client("logs")
        name = props.get("LogGroupName") or _physical_name(self.stack_name, logical_id, 512)
        logs.create_log_group(logGroupName=name)
        if props.get("RetentionInDays"):
            logs.put_retention_policy(
                logGroupName=name, retentionInDays=int(props["RetentionInDays"])
            )
        arn = self.arn("logs", f"log-group:{name}:*")
        return PhysicalResource(logical_id, "AWS::Logs::LogGroup", name, {"Arn": arn})

    def event_bus(self, logical_id: str, props: dict[str, Any]) -> PhysicalResource:
        events = self.client("events")
        arn = events.create_event_bus(Name=props["Name"])["EventBusArn"]
        if props.get("Policy"):  # CloudFormation applies the bus's resource policy so too
            policy = props["Policy"]
            text = policy if isinstance(policy, str) else json.dumps(policy)
            events.put_permission(EventBusName=props["Name"], Policy=text)
        return PhysicalResource(
            logical_id, "AWS::Events::EventBus", props["Name"], {"Arn": arn, "Name": props["Name"]}
        )

    def event_rule(self, logical_id: str, props: dict[str, Any]) -> PhysicalResource:
        events = self.client("events")
        name = props.get("Name") or _physical_name(self.stack_name, logical_id)
        kwargs: dict[str, Any] = {"Name": name, "State": props.get("State", "ENABLED")}
        if props.get("EventPattern"):
            kwargs["EventPattern"] = json.dumps(props["EventPattern"])
        for key in ("ScheduleExpression", "Description", "EventBusName", "RoleArn"):
            if props.get(key):
                kwargs[key] = props[key]
        arn = events.put_rule(**kwargs)["RuleArn"]
        targets = props.get("Targets") or []
        if targets:
            events.put_targets(
                Rule=name, EventBusName=kwargs.get("EventBusName", "default"), Targets=targets
            )
        return PhysicalResource(logical_id, "AWS::Events::Rule", name, {"Arn": arn})

    def state_machine(self, logical_id: str, props: dict[str, Any]) -> PhysicalResource:
        name = props.get("StateMachineName") or _physical_name(self.stack_name, logical_id, 80)
        arn = self.arn("states", f"stateMachine:{name}")
        definition = self._definition(logical_id, props)
        if definition is None:
            return PhysicalResource(
                logical_id,
                "AWS::StepFunctions::StateMachine",
                arn,
                {"Arn": arn, "Name": name, "_skipped": "definition missing"},
            )
        kwargs: dict[str, Any] = {
            "name": name,
            "definition": definition,
            "roleArn": props["RoleArn"],
            "type": props.get("StateMachineType", "STANDARD"),
            "tags": [{"key": k, "value": v} for k, v in _tags_dict(props.get("Tags")).items()],
        }
        if props.get("LoggingConfiguration"):
            kwargs["loggingConfiguration"] = _lower_first(props["LoggingConfiguration"])
        if props.get("TracingConfiguration"):
            kwargs["tracingConfiguration"] = _lower_first(props["TracingConfiguration"])
        arn = self.client("stepfunctions").create_state_machine(**kwargs)["stateMachineArn"]
        return PhysicalResource(
            logical_id, "AWS::StepFunctions::StateMachine", arn, {"Arn": arn, "Name": name}
        )

    def _definition(self, logical_id: str, props: dict[str, Any]) -> str | None:
        """The definition text with ``DefinitionSubstitutions`` applied, as AWS does."""
        if props.get("DefinitionS3Location"):
            path = self.local_paths.get(props["DefinitionS3Location"].get("Key", ""))
            if path is None or not path.is_file():
                LOG.warning("%s: definition file %s not found; not created", logical_id, path)
                return None
            text = path.read_text(encoding="utf-8")
        elif props.get("Definition") is not None:
            text = json.dumps(props["Definition"])
        else:
            text = str(props["DefinitionString"])
        for key, value in (props.get("DefinitionSubstitutions") or {}).items():
            replacement = json.dumps(value) if isinstance(value, dict | list) else str(value)
            text = text.replace("${" + key + "}", replacement)
        return text

    def dynamodb_table(self, logical_id: str, props: dict[str, Any]) -> PhysicalResource:
        name = props.get("TableName") or _physical_name(self.stack_name, logical_id, 255)
        kwargs: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        for key in (
            "ProvisionedThroughput",
            "GlobalSecondaryIndexes",
            "LocalSecondaryIndexes",
            "StreamSpecification",
        ):
            if props.get(key):
                kwargs[key] = props[key]
        if kwargs["BillingMode"] == "PROVISIONED" and "ProvisionedThroughput" not in kwargs:
            kwargs["ProvisionedThroughput"] = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        if kwargs.get("StreamSpecification"):
            kwargs["StreamSpecification"] = {"StreamEnabled": True, **kwargs["StreamSpecification"]}
        dynamodb = self.client("dynamodb")
        table = dynamodb.create_table(**kwargs)["TableDescription"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        attributes = {"Arn": table["TableArn"]}
        if table.get("LatestStreamArn"):
            attributes["StreamArn"] = table["LatestStreamArn"]
        return PhysicalResource(logical_id, "AWS::DynamoDB::Table", name, attributes)

    def secret(self, logical_id: str, props: dict[str, Any]) -> PhysicalResource:
        """``Ref`` and ``Id``: the secret's ARN. Without ``Name``, CloudFormation names it
        ``<LogicalId>-<12 characters>``; ``GenerateSecretString`` as documented (below)."""
        name = props.get("Name") or f"{logical_id}-{_suffix(self.stack_name, logical_id)}"
        kwargs: dict[str, Any] = {"Name": name, "Description": props.get("Description", "")}
        if props.get("GenerateSecretString") is not None:
            kwargs["SecretString"] = self._generated_secret(
                logical_id, props["GenerateSecretString"]
            )
        elif props.get("SecretString") is not None:
            kwargs["SecretString"] = str(props["SecretString"])
        if props.get("KmsKeyId"):
            kwargs["KmsKeyId"] = props["KmsKeyId"]
        tags = _tags_dict(props.get("Tags"))
        if tags:
            kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        arn = self.client("secretsmanager").create_secret(**kwargs)["ARN"]
        return PhysicalResource(logical_id, "AWS::SecretsManager::Secret", arn, {"Id": arn})

    def _generated_secret(self, logical_id: str, spec: Mapping[str, Any]) -> str:
        """GetRandomPassword with the spec's options (PasswordLength 32 by default); with a
        ``SecretStringTemplate`` (a JSON object), the password goes under ``GenerateStringKey``,
        and one of the two without the other is an error, as CloudFormation's."""
        template, key = spec.get("SecretStringTemplate"), spec.get("GenerateStringKey")
        if (template is None) != (key is None):
            raise TemplateError(
                f"{logical_id}: SecretStringTemplate and GenerateStringKey go together"
            )
        options: dict[str, Any] = {"PasswordLength": int(spec.get("PasswordLength", 32))}
        if spec.get("ExcludeCharacters"):
            options["ExcludeCharacters"] = str(spec["ExcludeCharacters"])
        for flag in _PASSWORD_FLAGS:
            if flag in spec:
                options[flag] = _truthy(spec[flag])
        password = self.client("secretsmanager").get_random_password(**options)["RandomPassword"]
        if template is None:
            return str(password)
        document = json.loads(template)
        if not isinstance(document, dict):
            raise TemplateError(f"{logical_id}: SecretStringTemplate must be a JSON object")
        document[key] = password
        return json.dumps(document)

    def ssm_parameter(self, logical_id: str, props: dict[str, Any]) -> PhysicalResource:
        """``Ref``: the parameter's name (without ``Name``, CloudFormation's
        ``CFN-<LogicalId>-<suffix>``); ``Type`` and ``Value`` for ``Fn::GetAtt``."""
        name = props.get("Name") or f"CFN-{logical_id}-{_suffix(self.stack_name, logical_id)}"
        value = props["Value"]
        if isinstance(value, list):  # a StringList may be given as a list
            value = ",".join(str(v) for v in value)
        kwargs: dict[str, Any] = {"Name": name, "Value": str(value), "Type": props["Type"]}
        for key in ("Description", "AllowedPattern", "Tier", "DataType", "Policies"):
            if props.get(key):
                kwargs[key] = props[key]
        tags = _tags_dict(props.get("Tags"))
        if tags:
            kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        self.client("ssm").put_parameter(**kwargs)
        return PhysicalResource(
            logical_id, "AWS::SSM::Parameter", name, {"Type": props["Type"], "Value": str(value)}
        )

    def cloudwatch_alarm(self, logical_id: str, props: dict[str, Any]) -> PhysicalResource:
        """A metric alarm (moto keeps it; nothing evaluates it). ``Ref``: its name; ``Arn``."""
        name = props.get("AlarmName") or _physical_name(self.stack_name, logical_id, 255)
        kwargs: dict[str, Any] = {
            key: props[key]
            for key in (
                "AlarmDescription",
                "Namespace",
                "MetricName",
                "Dimensions",
                "Statistic",
                "ComparisonOperator",
                "TreatMissingData",
                "AlarmActions",
                "OKActions",
            )
            if key in props
        }
        for key in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
            if key in props:
                kwargs[key] = int(props[key])
        self.client("cloudwatch").put_metric_alarm(
            AlarmName=name, Threshold=float(props["Threshold"]), **kwargs
        )
        arn = self.arn("cloudwatch", f"alarm:{name}")
        return PhysicalResource(logical_id, "AWS::CloudWatch::Alarm", name, {"Arn": arn})


# --- entry point -----------------------------------------------------------------------------
def _parameter_values(
    cfn: Mapping[str, Any], overrides: Mapping[str, Any], stack_name: str, region: str
) -> dict[str, str]:
    values = {
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Region": region,
        "AWS::StackName": stack_name,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::StackId": f"arn:aws:cloudformation:{region}:{ACCOUNT_ID}:stack/{stack_name}/emulator",
    }
    for name, definition in (cfn.get("Parameters") or {}).items():
        if name in overrides:
            values[name] = str(overrides[name])
        elif "Default" in definition:
            values[name] = str(definition["Default"])
        else:
            raise TemplateError(f"parameter {name} has no default and no override")
    unknown = set(overrides) - set(cfn.get("Parameters") or {})
    if unknown:
        raise TemplateError(f"unknown parameter overrides {sorted(unknown)}")
    return values


def deploy(
    endpoint_url: str,
    template_path: Path = REPO_ROOT / "template.yaml",
    *,
    stack_name: str = "private-api-provisioner",
    region: str = "us-east-1",
    parameter_overrides: Mapping[str, Any] | None = None,
) -> DeployedStack:
    """Create every resource of the template in the moto at ``endpoint_url``.

    Resource types without a handler here are skipped (listed in ``DeployedStack.skipped``)
    rather than failing, and so is a state machine whose definition file does not exist yet.
    """
    overrides = dict(parameter_overrides or {})
    sam_template = load_template(template_path)
    cfn, local_paths = transform(
        sam_template,
        template_path.parent,
        stack_name,
        region,
        {k: str(v) for k, v in overrides.items()},
    )
    parameters = _parameter_values(cfn, overrides, stack_name, region)
    resolver = Resolver(parameters, _conditions(cfn, parameters))
    deployer = _Deployer(endpoint_url, region, stack_name, local_paths, resolver)
    resources = cfn.get("Resources") or {}
    skipped: dict[str, str] = {}
    for logical_id in creation_order(resources):
        resource = resources[logical_id]
        if resource.get("Condition") and not resolver.conditions.get(resource["Condition"]):
            skipped[logical_id] = f"condition {resource['Condition']} is false"
            continue
        handler = deployer.handlers.get(resource["Type"])
        if handler is None:
            skipped[logical_id] = f"{resource['Type']} is not emulated"
            resolver.resources[logical_id] = PhysicalResource(
                logical_id, resource["Type"], logical_id, {}
            )
            continue
        properties = resolver.resolve(resource.get("Properties") or {})
        physical = handler(logical_id, properties)
        if "_skipped" in physical.attributes:
            skipped[logical_id] = physical.attributes["_skipped"]
        resolver.resources[logical_id] = physical
    outputs = {
        name: str(resolver.resolve(output["Value"]))
        for name, output in (cfn.get("Outputs") or {}).items()
        if not output.get("Condition") or resolver.conditions.get(output["Condition"])
    }
    return DeployedStack(
        stack_name=stack_name,
        region=region,
        outputs=outputs,
        resources=dict(resolver.resources),
        functions=deployer.functions,
        skipped=skipped,
        template=cfn,
    )

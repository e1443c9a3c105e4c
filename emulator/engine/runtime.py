"""``EmbeddedAws``: moto over HTTP with the stack deployed and our handlers answering Invoke.

    with EmbeddedAws(parameters={"PollIntervalSeconds": 1}, time_scale="auto") as aws:
        aws.client("events").put_events(Entries=[...])

Starting it: a threaded moto server on 127.0.0.1 (a free port unless one is given) behind
:class:`ControlMiddleware`, ``MOTO_PORT`` set so moto's Step Functions interpreter calls this
server, moto configured to execute state machines, the fidelity patches, the Lambda runtime
and the EventBridge → Step Functions bridge installed, then ``template.yaml`` deployed, and the
SQS event source mappings polled (:mod:`emulator.engine.event_sources`). The same server serves
function URLs at ``/_lambda-url/<function-name>/`` (:mod:`emulator.engine.function_urls`).
moto's state is process-global, so starting (and ``reset()``) wipes every backend first.
Everything in it runs on one clock (:mod:`emulator.engine.clock`), set by ``time_scale``.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import boto3
from botocore.config import Config
from moto import backends as moto_backends
from moto.core.config import default_user_config
from moto.moto_api._internal.models import moto_api_backend
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

from emulator import fidelity
from emulator.engine import event_sources, eventbridge, function_urls
from emulator.engine.clock import CLOCK, Clock, TimeScale, parse_time_scale
from emulator.engine.lambda_runtime import LambdaRuntime, function_ref_from_path, install_boto_hook
from emulator.engine.ports import free_port
from emulator.engine.stack import ACCOUNT_ID, REPO_ROOT, DeployedStack, deploy
from emulator.fidelity import stepfunctions

CONTROL_PREFIX = "/_emulator/"
# The stack creates nothing in these: a reset wipes them whole.
_SERVICES_OUTSIDE_THE_STACK = ("apigateway", "apigatewayv2", "elbv2", "ec2")
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _list_moto_modules_once() -> None:
    """moto's dispatcher lists moto's package folder (``os.path.isdir`` on each of its ~270
    entries) for every request it routes, holding the one lock every request thread takes to
    find its backend: a fifth of the server's busy time in a burst, with the other requests
    queued on the lock. The folder does not change while the emulator runs: it is listed once."""
    if hasattr(moto_backends.list_of_moto_modules, "listed_once"):
        return
    modules = tuple(moto_backends.list_of_moto_modules())

    def list_of_moto_modules() -> tuple[str, ...]:
        return modules

    list_of_moto_modules.listed_once = True  # type: ignore[attr-defined]
    moto_backends.list_of_moto_modules = list_of_moto_modules


class ControlMiddleware:
    """In front of moto's WSGI app: ``POST /_emulator/<hook>`` test controls (see
    :func:`apply_control`), function URLs (``<any method> /_lambda-url/<function-name>/...``,
    :mod:`emulator.engine.function_urls`), and Lambda Invoke for out-of-process clients."""

    def __init__(self, app: WsgiApp, runtime: Callable[[], LambdaRuntime | None]) -> None:
        self.app = app
        self.runtime = runtime

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path.startswith(CONTROL_PREFIX) and method == "POST":
            return self._control(path[len(CONTROL_PREFIX) :], environ, start_response)
        if path.startswith(function_urls.FUNCTION_URL_PREFIX):
            return function_urls.serve(environ, start_response, self.runtime())
        function_ref = function_ref_from_path(environ.get("RAW_URI", "").split("?")[0] or path)
        runtime = self.runtime()
        if method == "POST" and function_ref and runtime and runtime.resolve(function_ref):
            headers = {
                key[5:].replace("_", "-"): value
                for key, value in environ.items()
                if key.startswith("HTTP_")
            }
            result, tail = runtime.dispatch(function_ref, _body(environ), headers)
            status = f"{result.status_code} {'OK' if result.status_code < 300 else 'Error'}"
            start_response(status, list(result.headers(tail).items()))
            return [result.payload]
        return self.app(environ, start_response)

    @staticmethod
    def _control(name: str, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        try:
            body = json.loads(_body(environ) or b"{}")
            answer, status = apply_control(name, body), "200 OK"
        except (KeyError, ValueError, TypeError) as exc:
            answer, status = {"message": f"bad control request: {exc!r}"}, "400 Bad Request"
        payload = json.dumps(answer).encode()
        start_response(status, [("Content-Type", "application/json")])
        return [payload]


def apply_control(name: str, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /_emulator/clock``: ``advance`` (seconds) steps the clock, ``timeScale`` (a
    number or ``"auto"``) changes how it moves; the answer is the clock now. Every other
    control is the fidelity patches' (:func:`emulator.fidelity.apply_control`)."""
    if name != "clock":
        return fidelity.apply_control(name, body)
    if "timeScale" in body:
        CLOCK.configure(parse_time_scale(str(body["timeScale"])))
    if "advance" in body:
        CLOCK.advance(float(body["advance"]))
    return CLOCK.describe()


class QuietRequestHandler(MotoRequestHandler):
    """moto's request handler without one access-log line per request."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return environ["wsgi.input"].read(length) if length else b""


class EmbeddedAws:
    """A running, HTTP-reachable moto with ``template.yaml`` deployed into it."""

    def __init__(
        self,
        *,
        port: int | None = None,
        template: Path = REPO_ROOT / "template.yaml",
        parameters: Mapping[str, Any] | None = None,
        stack_name: str = "private-api-provisioner",
        region: str = "us-east-1",
        vpc_link_pending_seconds: float = 3.0,
        vpc_link_deleting_seconds: float = 1.0,
        time_scale: TimeScale = 1.0,
        ami_catalogue: bool = True,
        deploy_stack: bool = True,
        rate_limits: bool = True,
        sqs_pollers: int = 2,
    ) -> None:
        self.port = port or free_port()
        self.template = template
        self.parameters = dict(parameters or {})
        self.stack_name = stack_name
        self.region = region
        self.vpc_link_pending_seconds = vpc_link_pending_seconds
        self.vpc_link_deleting_seconds = vpc_link_deleting_seconds
        self.time_scale = time_scale
        # moto's EC2 AMI catalogue: nothing here launches instances, and loading it makes each
        # fresh EC2 backend (every reset) take a second; but `serve` keeps it, because the
        # random IDs it consumes are part of what gives the sample NLB its documented ARN.
        self.ami_catalogue = ami_catalogue
        self.deploy_stack = deploy_stack
        # API Gateway's control-plane rates (fidelity.rate_limits): on, as in AWS; tests that are
        # not about rates turn them off here, with no change to the template.
        self.rate_limits = rate_limits
        self.stack: DeployedStack | None = None
        self.lambda_runtime: LambdaRuntime | None = None
        # SQS event source mappings: polled by this many threads each (AWS starts with five)
        self.event_sources = event_sources.SqsEventSources(
            lambda: self.lambda_runtime, pollers=sqs_pollers
        )
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._previous_env: dict[str, str | None] = {}
        self._session = boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
        )
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.RLock()

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def clock(self) -> Clock:
        """The embedded AWS's clock (process-global, like moto's backends)."""
        return CLOCK

    @property
    def outputs(self) -> dict[str, str]:
        return dict(self.stack.outputs) if self.stack else {}

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> Self:
        self._set_env({"MOTO_PORT": str(self.port), "AWS_DEFAULT_REGION": self.region})
        if not self.ami_catalogue:
            self._set_env({"MOTO_EC2_LOAD_DEFAULT_AMIS": "false"})
        default_user_config["stepfunctions"] = {"execute_state_machine": True}
        default_user_config["lambda"] = {"use_docker": False}
        fidelity.install(self.vpc_link_pending_seconds, self.vpc_link_deleting_seconds)
        fidelity.reset_hooks()
        fidelity.rate_limits.enable(self.rate_limits)
        CLOCK.configure(self.time_scale)
        CLOCK.restart()
        eventbridge.install()
        event_sources.install()
        function_urls.install(self.endpoint_url)
        install_boto_hook()
        _list_moto_modules_once()
        app = ControlMiddleware(
            DomainDispatcherApplication(create_backend_app), lambda: self.lambda_runtime
        )
        self._server = make_server(
            "127.0.0.1", self.port, app, threaded=True, request_handler=QuietRequestHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"moto-{self.port}", daemon=True
        )
        self._thread.start()
        try:
            self._wipe_and_deploy()
        except BaseException:
            self.stop()
            raise
        self.event_sources.start()
        return self

    def _wipe_and_deploy(self) -> None:
        stepfunctions.stop_running_executions()
        moto_api_backend.reset()
        if not self.deploy_stack:
            return
        self.stack = deploy(
            self.endpoint_url,
            self.template,
            stack_name=self.stack_name,
            region=self.region,
            parameter_overrides=self.parameters,
        )
        if self.lambda_runtime is None:
            self.lambda_runtime = LambdaRuntime(
                self.stack.functions, self.endpoint_url, self.region
            )
        else:
            self.lambda_runtime.update_functions(self.stack.functions, self.endpoint_url)

    def reset(self) -> None:
        """Back to the state just after :meth:`start`: the stack as deployed and nothing else
        (warm workers stay; API Gateway's rate limits full, on or off as constructed). What a
        test can have added is wiped: everything in the services the stack has nothing in, and
        the items, executions, queues, subscriptions and rules added beside the stack's own;
        redeploying would take seconds, this takes a fraction."""
        fidelity.reset_hooks()
        fidelity.rate_limits.enable(self.rate_limits)
        fidelity.set_vpc_link_timing(self.vpc_link_pending_seconds, self.vpc_link_deleting_seconds)
        install_boto_hook()
        function_urls.install(self.endpoint_url)
        with self.event_sources.paused():  # no batch in flight while the queues are emptied
            if self.stack is None:
                self._wipe_and_deploy()
            else:
                self._wipe_all_but_the_stack(self.stack)
            self.event_sources.deliveries.clear()
        CLOCK.configure(self.time_scale)
        CLOCK.restart()

    def _wipe_all_but_the_stack(self, stack: DeployedStack) -> None:
        from moto.backends import get_backend

        stepfunctions.stop_running_executions()
        stepfunctions.forget_executions()
        for service in _SERVICES_OUTSIDE_THE_STACK:
            # per account: BackendDict.reset() itself is a classmethod that wipes every service
            for account_backends in get_backend(service).values():  # type: ignore[call-overload]
                account_backends.reset()
        deployed = {resource.ref for resource in stack.resources.values()}
        self._wipe_queues(stack, deployed)
        self._wipe_subscriptions_and_mappings(deployed)
        self._wipe_function_additions(stack)
        self._wipe_rules(deployed)
        for resource in stack.resources.values():
            if resource.type == "AWS::DynamoDB::Table":
                self._empty_table(resource.ref)

    def _wipe_subscriptions_and_mappings(self, deployed: set[str]) -> None:
        """Those a test added; the stack's own subscriptions and event source mappings stay."""
        sns = self.client("sns")
        for page in sns.get_paginator("list_subscriptions").paginate():
            for subscription in page.get("Subscriptions", []):
                if subscription["SubscriptionArn"] not in deployed:
                    sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])
        lambda_ = self.client("lambda")
        for page in lambda_.get_paginator("list_event_source_mappings").paginate():
            for mapping in page.get("EventSourceMappings", []):
                if mapping["UUID"] not in deployed:
                    lambda_.delete_event_source_mapping(UUID=mapping["UUID"])

    def _wipe_function_additions(self, stack: DeployedStack) -> None:
        """Function URLs and permission statements a test added to the stack's functions."""
        lambda_ = self.client("lambda")
        with_url = {r.ref for r in stack.resources.values() if r.type == "AWS::Lambda::Url"}
        statement_ids = {
            r.logical_id for r in stack.resources.values() if r.type == "AWS::Lambda::Permission"
        }
        for spec in stack.functions.values():
            if spec.arn not in with_url:
                lambda_.delete_function_url_config(FunctionName=spec.name)
            try:
                policy = json.loads(lambda_.get_policy(FunctionName=spec.name)["Policy"])
            except lambda_.exceptions.ResourceNotFoundException:
                continue
            for statement in policy["Statement"]:
                if statement.get("Sid") not in statement_ids:
                    lambda_.remove_permission(FunctionName=spec.name, StatementId=statement["Sid"])

    def _wipe_queues(self, stack: DeployedStack, deployed: set[str]) -> None:
        sqs = self.client("sqs")
        for url in sqs.list_queues().get("QueueUrls", []):
            if url not in deployed:
                sqs.delete_queue(QueueUrl=url)
        # The stack's queues are emptied in place, messages in flight included (PurgeQueue is
        # allowed once a minute, and receiving them would count towards their redrive).
        from moto.sqs.models import sqs_backends

        names = {
            resource.attributes["QueueName"]
            for resource in stack.resources.values()
            if resource.type == "AWS::SQS::Queue"
        }
        for name in names:
            queue = sqs_backends[ACCOUNT_ID][self.region].queues.get(name)
            if queue is not None:
                with queue._messages_lock:
                    queue._messages = []
                    queue._pending_messages = set()

    def _wipe_rules(self, deployed: set[str]) -> None:
        events = self.client("events")
        for bus in events.list_event_buses()["EventBuses"]:
            where = {"EventBusName": bus["Name"]}
            for rule in events.list_rules(**where)["Rules"]:
                if rule["Name"] in deployed:
                    continue
                targets = events.list_targets_by_rule(Rule=rule["Name"], **where)["Targets"]
                if targets:
                    ids = [target["Id"] for target in targets]
                    events.remove_targets(Rule=rule["Name"], Ids=ids, **where)
                events.delete_rule(Name=rule["Name"], **where)

    def _empty_table(self, table: str) -> None:
        dynamodb = self.client("dynamodb")
        keys = [
            k["AttributeName"]
            for k in dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]
        ]
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            for item in page.get("Items", []):
                dynamodb.delete_item(TableName=table, Key={key: item[key] for key in keys})

    def stop(self) -> None:
        """Stop the pollers, the workers and the server, restore the environment; safe to
        call twice."""
        self.event_sources.stop()
        if self.lambda_runtime is not None:
            self.lambda_runtime.stop()
            self.lambda_runtime = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        for key, value in self._previous_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._previous_env = {}

    def _set_env(self, values: Mapping[str, str]) -> None:
        for key, value in values.items():
            self._previous_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # --- helpers --------------------------------------------------------------------------
    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client for this emulator (dummy credentials, its region, no retries
        unless ``config`` says otherwise). Without arguments, one per service, made once."""
        if kwargs:
            return self._new_client(service, **kwargs)
        with self._clients_lock:
            if service not in self._clients:
                self._clients[service] = self._new_client(service)
            return self._clients[service]

    def _new_client(self, service: str, **kwargs: Any) -> Any:
        kwargs.setdefault("config", Config(retries={"total_max_attempts": 1, "mode": "standard"}))
        # any service by its name (boto3's stubs type a client per literal service name)
        make_client: Callable[..., Any] = self._session.client
        with self._clients_lock:  # a boto3 session is not thread-safe while it makes clients
            return make_client(service, endpoint_url=self.endpoint_url, **kwargs)

    def control(self, hook: str, **body: Any) -> dict[str, Any]:
        """POST a test control over HTTP, as an out-of-process test would."""
        import urllib.request

        request = urllib.request.Request(
            f"{self.endpoint_url}{CONTROL_PREFIX}{hook}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]

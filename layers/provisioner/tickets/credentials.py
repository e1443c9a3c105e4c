"""Each ticket system's write-back credentials: a Secrets Manager secret per system (README,
"Progress back to the ticket"), read with Powertools Parameters and cached five minutes, so a
rotated secret is used within five minutes without a deployment.

Shapes (JSON):

* Jira: ``{"baseUrl": "https://<site>.atlassian.net", "email": ..., "apiToken": ...}``
  (HTTP Basic with the account's email and an API token);
* ServiceNow: ``{"instanceUrl": "https://<instance>.service-now.com", "username": ...,
  "password": ...}`` (HTTP Basic) or ``{"instanceUrl": ..., "clientId": ..., "clientSecret":
  ...}`` (OAuth client credentials grant);
* GitHub: ``{"token": ..., "apiUrl": "https://api.github.com"}`` (``apiUrl`` optional; a
  GitHub Enterprise Server gives ``https://<host>/api/v3``).

The base URL always comes from the secret, never from a notification. The template creates
each secret with ``{"configured": false}``: a system whose secret still says so is not
configured, and its tickets are not written back (a warning, once per execution environment).
Secret values are :class:`Secret`: they never show in a ``repr``, a log line or an error; a
malformed secret is reported by its fields' names and rules, never their values.
"""

from collections.abc import Callable
from typing import Annotated, Any, get_args, get_origin
from urllib.parse import urlsplit

import msgspec

from provisioner.contract.vocabulary import TicketSystem

SECRET_MAX_AGE_SECONDS = 300


class CredentialsNotConfigured(Exception):
    """The system's secret is not set (no secret id, or still the template's placeholder)."""


class CredentialsMalformed(Exception):
    """The secret is set but is not the system's shape; ``problems`` names the fields (never
    their values)."""

    def __init__(self, system: TicketSystem, problems: list[str]) -> None:
        super().__init__(f"the {system.value} credentials secret is malformed: {problems}")
        self.problems = problems


_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _base_url(url: str) -> str:
    """An ``https://`` URL: credentials never travel in clear text, except to this machine
    (the embedded ticket desk answers on loopback, over ``http://``)."""
    parts = urlsplit(url)
    local = parts.scheme == "http" and parts.hostname in _LOOPBACK
    if not (parts.scheme == "https" or local) or not parts.hostname:
        raise ValueError("must be an https:// URL")
    if parts.query or parts.fragment:
        raise ValueError("must not have a query or a fragment")
    return url.rstrip("/")


class Secret:
    """A secret's value, shown as ``**********`` (as pydantic's ``SecretStr``, whose
    ``get_secret_value`` it keeps)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class _Rule(Exception):
    """A field's value breaks its rule; the rule's name is what a problem reports."""


def _text(value: str) -> str:
    text = value.strip()
    if not text:
        raise _Rule("string_too_short")
    return text


def _url(value: str) -> str:
    if not value:
        raise _Rule("string_too_short")
    try:
        return _base_url(value)
    except ValueError:
        raise _Rule("value_error") from None


# How a field of a secret is read: a base URL, a name (stripped), a secret value.
BaseUrl = Annotated[str, _url]
Text = Annotated[str, _text]


def _reader(kind: Any) -> Callable[[str], object]:
    reader: Callable[[str], object] = get_args(kind)[1] if get_origin(kind) is Annotated else kind
    return reader


class _Secret(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One system's credentials, camelCase in the secret; :meth:`read` reports every field
    at fault at once."""

    @classmethod
    def read(cls, system: TicketSystem, value: dict[str, Any]) -> Any:
        found: dict[str, object] = {}
        problems: list[str] = []
        for field in msgspec.structs.fields(cls):
            key = field.encode_name
            given = value.get(key, value.get(field.name))
            if given is None:
                if field.required:
                    problems.append(f"{key}: missing")
            elif not isinstance(given, str):
                problems.append(f"{key}: string_type")
            else:
                try:
                    found[field.name] = _reader(field.type)(given)
                except _Rule as rule:
                    problems.append(f"{key}: {rule}")
        if problems:  # the field and the rule only, never the value
            raise CredentialsMalformed(system, problems)
        return cls(**found)


class JiraCredentials(_Secret, frozen=True, kw_only=True):
    base_url: BaseUrl
    email: Text
    api_token: Secret


class ServiceNowBasicCredentials(_Secret, frozen=True, kw_only=True):
    instance_url: BaseUrl
    username: Text
    password: Secret


class ServiceNowOAuthCredentials(_Secret, frozen=True, kw_only=True):
    instance_url: BaseUrl
    client_id: Text
    client_secret: Secret


class GitHubCredentials(_Secret, frozen=True, kw_only=True):
    token: Secret
    api_url: BaseUrl = "https://api.github.com"


type Credentials = (
    JiraCredentials | ServiceNowBasicCredentials | ServiceNowOAuthCredentials | GitHubCredentials
)


def read_credentials(system: TicketSystem, secret_id: str | None) -> Credentials:
    """The system's credentials, from its secret (cached ``SECRET_MAX_AGE_SECONDS``).

    Raises :class:`CredentialsNotConfigured`, :class:`CredentialsMalformed`, or Powertools'
    ``GetParameterError`` when Secrets Manager cannot be read (worth retrying).
    """
    from aws_lambda_powertools.utilities import parameters
    from aws_lambda_powertools.utilities.parameters.exceptions import TransformParameterError

    if not secret_id:
        raise CredentialsNotConfigured(f"no {system.value} credentials secret is set")
    try:
        value = parameters.get_secret(secret_id, transform="json", max_age=SECRET_MAX_AGE_SECONDS)
    except TransformParameterError as not_json:
        raise CredentialsMalformed(system, ["the secret is not a JSON object"]) from not_json
    return parse_credentials(system, value)


def parse_credentials(system: TicketSystem, value: Any) -> Credentials:
    if not isinstance(value, dict):
        raise CredentialsMalformed(system, ["the secret is not a JSON object"])
    if value.get("configured") is False:
        raise CredentialsNotConfigured(f"the {system.value} credentials secret is a placeholder")
    shape: type[_Secret]
    if system is TicketSystem.JIRA:
        shape = JiraCredentials
    elif system is TicketSystem.GITHUB:
        shape = GitHubCredentials
    elif "clientId" in value or "clientSecret" in value:
        shape = ServiceNowOAuthCredentials
    else:
        shape = ServiceNowBasicCredentials
    credentials: Credentials = shape.read(system, value)
    return credentials

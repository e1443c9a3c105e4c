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
Secret values are ``SecretStr``: they never show in a ``repr``, a log line or an error.
"""

from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    SecretStr,
    StringConstraints,
    ValidationError,
)
from pydantic.alias_generators import to_camel

from provisioner.contract.requests import TicketSystem

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


BaseUrl = Annotated[str, StringConstraints(min_length=1), AfterValidator(_base_url)]
Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]


class _Secret(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )


class JiraCredentials(_Secret):
    base_url: BaseUrl
    email: Text
    api_token: SecretStr


class ServiceNowBasicCredentials(_Secret):
    instance_url: BaseUrl
    username: Text
    password: SecretStr


class ServiceNowOAuthCredentials(_Secret):
    instance_url: BaseUrl
    client_id: Text
    client_secret: SecretStr


class GitHubCredentials(_Secret):
    token: SecretStr
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
    try:
        if system is TicketSystem.JIRA:
            return JiraCredentials.model_validate(value)
        if system is TicketSystem.GITHUB:
            return GitHubCredentials.model_validate(value)
        if "clientId" in value or "clientSecret" in value:
            return ServiceNowOAuthCredentials.model_validate(value)
        return ServiceNowBasicCredentials.model_validate(value)
    except ValidationError as invalid:
        # The field and the rule only: pydantic's message would quote the value.
        problems = [
            f"{'.'.join(str(part) for part in error['loc'])}: {error['type']}"
            for error in invalid.errors(include_input=False, include_url=False)
        ]
        raise CredentialsMalformed(system, problems) from None

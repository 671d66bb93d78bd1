"""The CSMS REST API as the ledger admin page calls it: the admin's bearer token on every call,
and every failure told in words (unreachable, wrong token, no token service, refused by the
ledger) rather than raised, so the page can show it and carry on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

TIMEOUT_S = 15.0  # an admin action is a few ledger transactions


@dataclass(frozen=True)
class Answer:
    body: Any  # the JSON answer (or its text); None when none came
    error: str | None = None  # what went wrong, in words; None when it went through

    @property
    def ok(self) -> bool:
        return self.error is None


class CsmsApi:
    def __init__(self, base_url: str, admin_token: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {admin_token}"}

    def get(self, path: str) -> Answer:
        return self.call("GET", path)

    def call(self, method: str, path: str, body: dict | None = None) -> Answer:
        url = f"{self.base_url}{path}"
        try:
            response = httpx.request(
                method, url, json=body, headers=self._headers, timeout=TIMEOUT_S
            )
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            reason = str(error) or type(error).__name__
            return Answer(
                body=None,
                error=f"The CSMS API at {self.base_url} cannot be reached ({reason}). Is the "
                "central system running (`evch serve --tokens`), and is this its API URL?",
            )
        try:
            answer = response.json()
        except ValueError:
            answer = response.text
        if response.is_success:
            return Answer(answer)
        return Answer(answer, explain(response.status_code, answer))


def explain(status: int, answer: Any) -> str:
    """A refusal of the API in words, with what to do about it."""
    said = _message(answer)
    if status in (401, 403):  # 401: unknown token; 403: a key without the admin role
        return (
            f"{status}: the admin token was refused. It must be the central system's admin token "
            "(`evch serve --admin-token`, or EVCH_ADMIN_TOKEN) or an admin API key (`evch db "
            "add-api-key NAME --role admin`)."
        )
    if status == 503 and "not enabled" in said:  # routes/deps.py: no token service attached
        return f"503: {said}: start it with its token service, `evch serve --tokens`."
    if status == 409:
        return f"409: the ledger refused it: {said}"
    if status == 422:
        return f"422: refused as invalid: {said}"
    if status == 404:
        return f"404: {said}"
    return f"{status}: {said}"


def _message(answer: Any) -> str:
    """The API's own words: ``message`` of a domain error, ``detail`` of a validation error."""
    if not isinstance(answer, dict):
        return str(answer) or "no explanation given"
    if "message" in answer:
        return str(answer["message"])
    detail = answer.get("detail")
    if isinstance(detail, list):  # pydantic's errors: where and why
        return "; ".join(
            f"{'.'.join(str(part) for part in error.get('loc', ())[1:])}: {error.get('msg')}"
            for error in detail
        )
    return str(detail or answer)

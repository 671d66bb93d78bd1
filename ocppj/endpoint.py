"""An OCPP-J endpoint mixin for `ocpp.v16.ChargePoint` / `ocpp.v201.ChargePoint` subclasses.

What the `ocpp` library leaves out, and both of our peers need:

- every malformed frame gets a CALLERROR (the library only logs unparsable frames), with the
  error code the version's specification names;
- schema violations are classified as the specification describes them (a missing field is an
  occurrence violation, a wrong enum value a property violation, ...);
- unknown extra fields, which real chargers send, are logged and dropped instead of refused;
- message ids are a per-connection counter, so a seeded run produces the same frames;
- a frame tap, so every frame in either direction can be recorded, and a message tap that
  sees the frames as the endpoint parsed them.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol

import ocpp.messages
from jsonschema.exceptions import best_match
from ocpp.exceptions import (
    FormatViolationError,
    NotSupportedError,
    OCPPError,
)
from ocpp.exceptions import (
    NotImplementedError as NotImplementedCallError,
)
from ocpp.messages import Call, CallError, CallResult, MessageType, get_validator
from ocpp.v16.enums import Action as V16Action
from ocpp.v201.enums import Action as V201Action
from websockets.exceptions import ConnectionClosed

from ocppj.errors import spell, violation_for

log = logging.getLogger(__name__)

# Validating in a worker thread per message costs more than the validation itself.
ocpp.messages.ASYNC_VALIDATION = False

_CLOSED = object()

# (charger id, "in" | "out" as seen from the endpoint, raw frame)
FrameObserver = Callable[[str, str, str], None]


class MessageTap(Protocol):
    """Sees every frame of an endpoint's connection, an incoming one as the endpoint parsed it
    (so that counting calls does not parse each frame a second time)."""

    def received(self, message: object) -> None:
        """A frame from the peer, parsed (None when it is not JSON), before it is routed."""

    def sent(self, frame: str) -> None:
        """A frame to the peer, as it goes out."""


class ConnectionLost(Exception):
    """The connection closed while a CALL was waiting for its answer."""


class RpcFrameworkError(OCPPError):
    code = "RpcFrameworkError"
    default_description = "The frame is not a valid OCPP-J RPC message"


class MessageTypeNotSupportedError(OCPPError):
    code = "MessageTypeNotSupported"
    default_description = "This message type number is not supported"


def _float_artefact(error) -> bool:
    """A `multipleOf` failure that exists only because 21.4 / 0.1 is not exact in floats."""
    if error.validator != "multipleOf":
        return False
    quotient = Decimal(str(error.instance)) / Decimal(str(error.validator_value))
    return quotient == quotient.to_integral_value()


class TappedConnection:
    """Wraps a WebSocket so an observer sees every frame, both directions."""

    def __init__(self, websocket: Any, charger_id: str, observer: FrameObserver) -> None:
        self._websocket = websocket
        self._charger_id = charger_id
        self._observer = observer

    async def recv(self) -> str:
        frame = await self._websocket.recv()
        self._observer(self._charger_id, "in", frame)
        return frame

    async def send(self, frame: str) -> None:
        self._observer(self._charger_id, "out", frame)
        await self._websocket.send(frame)

    async def close(self, *args: Any, **kwargs: Any) -> None:
        await self._websocket.close(*args, **kwargs)


class RpcEndpoint:
    """Mix in before the `ocpp` ChargePoint class: `class X(RpcEndpoint, v16.ChargePoint)`."""

    _ocpp_version: str
    id: str
    route_map: dict
    lenient = True
    tap: MessageTap | None = None

    _closed: asyncio.Future | None = None
    _awaited_actions: dict[str, str]

    def use_counter_ids(self) -> None:
        counter = itertools.count(1)
        self._unique_id_generator = lambda: str(next(counter))

    async def start(self) -> None:
        """The receive loop. When it ends, a CALL still waiting for its answer fails at once.

        Frames the peer sent before closing are routed first; then a marker in the response
        queue tells a waiting CALL that no answer will come (the `ocpp` library would wait out
        its timeout).
        """
        self._closed = asyncio.get_running_loop().create_future()
        self._response_queue = asyncio.Queue()
        self._awaited_actions = {}
        # `_check_payload` validates every request already; the library would do it twice.
        # (Our answers go unvalidated at run time; the strict third-party interop tests check them.)
        for routes in self.route_map.values():
            routes["_skip_schema_validation"] = True
        try:
            await super().start()
        finally:
            self._closed.set_result(None)
            self._response_queue.put_nowait(_CLOSED)

    async def close(self) -> None:
        await self._connection.close()

    async def request(self, payload: Any) -> Any:
        """Send a CALL and return the answer's payload object.

        A CALLERROR raises its OCPPError; a connection that closes first raises ConnectionLost.
        """
        if self._closed is None or self._closed.done():
            raise ConnectionLost(f"{self.id}: not connected")
        # The answer is checked leniently in `_get_specific_response`, not by the library,
        # which would refuse a real charger's harmless extra field.
        unique_id = self._unique_id_generator()
        self._awaited_actions[unique_id] = type(payload).__name__
        try:
            return await self.call(
                payload, suppress=False, unique_id=unique_id, skip_schema_validation=True
            )
        except ConnectionClosed as closed:
            raise ConnectionLost(f"{self.id}: connection closed") from closed
        finally:
            self._awaited_actions.pop(unique_id, None)

    async def _get_specific_response(self, unique_id: str, timeout: float) -> Any:  # noqa: ASYNC109 (the library's signature)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation.
            async with asyncio.timeout(remaining):
                response = await self._response_queue.get()
            if response is _CLOSED:
                raise ConnectionLost(f"{self.id}: connection closed before the answer came")
            if response.unique_id == unique_id:
                action = self._awaited_actions.get(unique_id)
                if action and response.message_type_id == MessageType.CallResult:
                    self._check_payload(MessageType.CallResult, action, response.payload)
                return response
            log.warning(
                "%s: ignoring an answer to unknown message id %s", self.id, response.unique_id
            )

    async def route_message(self, raw_msg: str | bytes) -> None:
        try:
            frame, parsed = json.loads(raw_msg), True
        except (ValueError, TypeError):
            frame, parsed = None, False
        if self.tap is not None:
            self.tap.received(frame)
        if not parsed:
            await self._send_error("-1", FormatViolationError(description="Frame is not JSON"))
            return
        if not isinstance(frame, list) or len(frame) < 3 or not isinstance(frame[1], str):
            unique_id = frame[1] if isinstance(frame, list) and len(frame) > 1 else "-1"
            await self._send_error(
                str(unique_id) if isinstance(unique_id, str) else "-1",
                RpcFrameworkError(details={"cause": "expected [type, id, ...]"}),
            )
            return
        message_type, unique_id = frame[0], frame[1]
        if message_type == MessageType.Call:
            await self._route_call(frame, unique_id)
        elif message_type == MessageType.CallResult and len(frame) == 3:
            await self._answered(CallResult(unique_id, frame[2]))
        elif message_type == MessageType.CallError and len(frame) in (4, 5):
            await self._answered(CallError(*frame[1:]))
        elif message_type in (MessageType.CallResult, MessageType.CallError):
            # OCPP-J answers only CALLs with a CALLERROR: a broken answer is logged and dropped.
            log.warning("%s: malformed answer to %s dropped: %.200s", self.id, unique_id, raw_msg)
        else:
            await self._send_error(
                unique_id, MessageTypeNotSupportedError(details={"type": message_type})
            )

    async def _answered(self, answer: CallResult | CallError) -> None:
        """Hand an answer to the waiting CALL and let it act before the next frame is read.

        A peer handles its frames in order: a charger knows the transaction id that
        StartTransaction's answer brought before it handles the CSMS's next command for it.
        """
        self._response_queue.put_nowait(answer)
        await asyncio.sleep(0)  # the waiting caller was woken first, so it runs first

    async def _route_call(self, frame: list, unique_id: str) -> None:
        if len(frame) != 4 or not isinstance(frame[2], str):
            await self._send_error(unique_id, RpcFrameworkError(description="Malformed CALL"))
            return
        if not isinstance(frame[3], dict):
            await self._send_error(
                unique_id, FormatViolationError(description="Payload is not a JSON object")
            )
            return
        msg = Call(unique_id, frame[2], frame[3])
        try:
            self._check_route(msg.action)
            self._check_payload(MessageType.Call, msg.action, msg.payload)
            await self._handle_call(msg)
        except OCPPError as error:
            log.warning("%s: %s refused: %s %s", self.id, msg.action, error.code, error.details)
            await self._send(msg.create_call_error(error).to_json())

    def _check_route(self, action: str) -> None:
        """NotImplemented for an unknown action, NotSupported for a known one we do not handle.

        The spec's meanings; the `ocpp` library answers the other way round.
        """
        if "_on_action" in self.route_map.get(action, {}):
            return
        if action in _known_actions(self._ocpp_version):
            raise NotSupportedError(
                description="Requested Action is recognized but not supported by the receiver",
                details={"cause": f"{action} is not supported here"},
            )
        raise NotImplementedCallError(
            description="Requested Action is not known by receiver",
            details={"cause": f"{action} is not an OCPP {self._ocpp_version} action"},
        )

    def _check_payload(self, message_type: int, action: str, payload: dict) -> None:
        """Classify schema violations as the spec does; drop harmless unknown fields.

        Used on the requests and the answers we receive; a violation raises its OCPPError.
        """
        try:
            validator = get_validator(message_type, action, self._ocpp_version)
        except OSError:
            return
        errors = [e for e in validator.iter_errors(payload) if not _float_artefact(e)]
        if self.lenient:
            extras = [e for e in errors if e.validator == "additionalProperties"]
            for error in extras:
                dropped = _drop_unknown_fields(error.instance, error.schema)
                log.warning(
                    "%s: %s carries fields the %s schema does not define, ignored: %s",
                    self.id,
                    action if message_type == MessageType.Call else f"{action} answer",
                    self._ocpp_version,
                    ", ".join(dropped),
                )
            errors = [e for e in errors if e.validator != "additionalProperties"]
        if errors:
            raise violation_for(best_match(errors))

    async def _send_error(self, unique_id: str, error: OCPPError) -> None:
        frame = [
            MessageType.CallError,
            unique_id,
            error.code,
            error.description or "",
            error.details or {},
        ]
        log.warning("%s: malformed frame answered with %s", self.id, error.code)
        await self._send(json.dumps(frame))

    async def _send(self, message: str) -> None:
        if message.startswith("[4"):
            message = self._respell_error(message)
        if self.tap is not None:
            self.tap.sent(message)
        try:
            await self._connection.send(message)
        except ConnectionClosed:
            if message.startswith("[2"):
                raise
            # Keep the receive loop alive: frames the peer sent before closing (for example the
            # answer to our own pending CALL) are still buffered and must be routed.
            log.info("%s: answer not delivered, the connection is closed", self.id)

    def _respell_error(self, message: str) -> str:
        frame = json.loads(message)
        frame[2] = spell(frame[2], self._ocpp_version)
        return json.dumps(frame)


def _known_actions(ocpp_version: str) -> set[str]:
    return {a.value for a in (V16Action if ocpp_version == "1.6" else V201Action)}


def _drop_unknown_fields(instance: dict, schema: dict) -> list[str]:
    known = set(schema.get("properties", {}))
    unknown = [key for key in instance if key not in known]
    for key in unknown:
        del instance[key]
    return unknown

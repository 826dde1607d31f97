"""Every change this project makes to Gradio's own behaviour, in one place: what each works around, and the
Gradio it was checked against (CHECKED_WITH; tests/serve/test_gradio_patches.py fails on another version, so
that each is looked at again rather than trusted).

1. `quiet_input_errors(demo)`: Gradio phrases a missing argument as "didn't receive enough input values ...
   Received inputs: [<the values>]" and a value its component refuses as "... the value passed to the event
   handler was: <the value>", prints that with its traceback to the server's log and, with show_error=False,
   tells the caller only `"error": null`. For this page the value is a learner's question: it must not be
   written anywhere. The wrappers turn both into a gr.Error (sent to the caller, not printed) naming the
   endpoint and the input by position and component, and nothing of what was sent.
2. `checked_preprocess(check)`: a CheckboxGroup refuses any value outside the choices it was built with,
   while a source added and built since the page started is searched too; the component's preprocess is
   replaced by one of qa/serve/inputs.py's checks, its QAError said as a one-line gr.Error.
3. `keep_no_session_values()`: Gradio keeps, per browser session, a copy of every event's last inputs and
   outputs, only to rebuild a page from a deep link (a route this page closes: qa/serve/bodylimit.py). With
   10,000 sessions allowed and a 1 MB question each, that was ~1 MB per abandoned session. Keep none: a
   question about one's health should not linger in the server either.
4. `unknown_functions_404()`: `POST /gradio_api/call/<unknown name>` and `queue/join` with an unknown fn_index
   raised out of `route_utils.get_fn` (FnIndexInferError, KeyError): a 500 and a ~75-line traceback in the log
   per request, which let any client flood it. They are the caller's mistake: 404, one line, nothing logged.
"""

from __future__ import annotations

import functools
import inspect
import logging

import gradio as gr
from fastapi import HTTPException
from gradio import route_utils, state_holder
from gradio.components import Component

from qa.errors import QAError

log = logging.getLogger("ipt-qa.serve.gradio_patches")

CHECKED_WITH = "6.31.0"  # gradio.__version__ each patch below was read against and tested with


def _name(block_fn) -> str:
    return f"/{block_fn.api_name}" if getattr(block_fn, "api_name", None) else "this event"


def _component(block) -> str:
    label = getattr(block, "label", None)
    return f"{block.get_block_name()}{f' {label!r}' if label else ''}"


def _wanted(block_fn) -> str:
    """The inputs by name: the function's parameters when they match (gr.api labels them '1st', ...)."""
    try:
        params = list(inspect.signature(block_fn.fn).parameters)
    except (TypeError, ValueError):
        params = []
    if len(params) >= len(block_fn.inputs) and all(p.isidentifier() for p in params):
        return ", ".join(params[: len(block_fn.inputs)])
    return ", ".join(_component(b) for b in block_fn.inputs)


def quiet_input_errors(demo: gr.Blocks) -> gr.Blocks:
    """Wrap `demo`'s input checks as the module docstring says (instance attributes: other Blocks are left
    as they are). Returns `demo`."""
    validate = demo.validate_inputs

    def validate_inputs(block_fn, inputs):
        if len(inputs) < len(block_fn.inputs):
            raise gr.Error(f"{_name(block_fn)} takes {len(block_fn.inputs)} values ({_wanted(block_fn)}); "
                           f"{len(inputs)} were sent", print_exception=False)
        return validate(block_fn, inputs)

    demo.validate_inputs = validate_inputs  # type: ignore[method-assign]
    for block in demo.blocks.values():
        if isinstance(block, Component) and not getattr(block.preprocess, "quiet", False):
            block.preprocess = _quiet_preprocess(block)  # type: ignore[method-assign]
    return demo


def _quiet_preprocess(block):
    preprocess = block.preprocess

    @functools.wraps(preprocess)
    def quiet(payload):
        try:
            return preprocess(payload)
        except gr.Error as e:
            if not e.print_exception:
                raise  # worded by this project for the caller, without the value
            raise gr.Error(f"the value sent for {_component(block)} is not one it takes", print_exception=False) \
                from None
        except Exception as e:  # noqa: BLE001 - its message may hold the value sent: replaced, not chained
            raise gr.Error(f"the value sent for {_component(block)} is not one it takes "
                           f"({type(e).__name__})", print_exception=False) from None

    quiet.quiet = True  # type: ignore[attr-defined]
    return quiet


def checked_preprocess(check):
    """`check` (qa/serve/inputs.py) as a component's preprocess step: its one-line QAError as a gr.Error."""
    def checked(payload):
        try:
            return check(payload)
        except QAError as e:
            raise gr.Error(str(e), print_exception=False) from None
    checked.quiet = True  # type: ignore[attr-defined]  # already one line without the value
    return checked


def _patch(owner, name: str, make) -> None:
    """Replace `owner.name` by `make(original)` once (marked, so a second call does nothing); a warning and
    nothing changed when this Gradio no longer has it."""
    original = getattr(owner, name, None)
    if original is None:
        log.warning("gradio %s has no %s.%s: that patch is not applied", gr.__version__, owner.__name__, name)
        return
    if getattr(original, "ipt_patched", False):
        return
    patched = make(original)
    patched.ipt_patched = True
    setattr(owner, name, patched)


def keep_no_session_values() -> None:
    """Item 3 of the module docstring."""
    def make(update):
        def keep_nothing(self, key, value):
            return update(self, key, None)
        return keep_nothing

    _patch(state_holder.SessionState, "_update_value_in_config", make)


def unknown_functions_404() -> None:
    """Item 4 of the module docstring."""
    def make(get_fn):
        def known_fn(blocks, api_name, body):
            try:
                return get_fn(blocks, api_name, body)
            except (route_utils.FnIndexInferError, KeyError, IndexError):
                what = f"named {api_name[:80]!r}" if body.fn_index is None else f"with fn_index {body.fn_index}"
                raise HTTPException(404, f"no function {what} on this page; see /gradio_api/info") from None
        return known_fn

    _patch(route_utils, "get_fn", make)


def patch_gradio() -> None:
    """The process-wide patches (3 and 4); app.launch calls this before serving."""
    keep_no_session_values()
    unknown_functions_404()

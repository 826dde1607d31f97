"""Errors about the values sent to a Gradio endpoint, said in one line that never repeats the values.

Gradio phrases a missing argument as "didn't receive enough input values ... Received inputs: [<the values>]"
and a value its component refuses as "... the value passed to the event handler was: <the value>", prints
that with its traceback to the server's log and, with show_error=False, tells the caller only
`"error": null`. For this page the value is a learner's question: it must not be written anywhere. These
wrappers turn both into a gr.Error (sent to the caller, not printed) naming the endpoint and the input by
position and component, and nothing of what was sent.
"""

from __future__ import annotations

import functools
import inspect

import gradio as gr
from gradio.components import Component


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

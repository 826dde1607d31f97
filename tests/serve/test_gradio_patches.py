"""qa/serve/gradio_patches.py names the Gradio it was checked against, and each process-wide patch is in place
once applied; qa/serve/logrepeat.py bounds what one repeated error writes to the log."""

from __future__ import annotations

import logging

import gradio
import pytest

from qa.serve import gradio_patches
from qa.serve.logrepeat import RepeatLimit


def test_the_patches_were_checked_against_the_gradio_installed():
    # A new Gradio may have fixed, moved or changed what a patch works around: read each again, then update.
    assert gradio.__version__ == gradio_patches.CHECKED_WITH, "re-check qa/serve/gradio_patches.py"


def test_process_wide_patches_apply_once():
    from gradio import route_utils, state_holder

    gradio_patches.patch_gradio()
    get_fn = route_utils.get_fn
    update = state_holder.SessionState._update_value_in_config
    assert getattr(get_fn, "ipt_patched", False) and getattr(update, "ipt_patched", False)
    gradio_patches.patch_gradio()  # not wrapped twice
    assert route_utils.get_fn is get_fn and state_holder.SessionState._update_value_in_config is update


def test_an_unknown_function_is_an_http_404():
    from fastapi import HTTPException
    from gradio import route_utils
    from gradio.data_classes import PredictBody

    def echo(text: str) -> str:
        return text

    gradio_patches.patch_gradio()
    with gradio.Blocks() as demo:
        gradio.api(echo, api_name="echo")
    assert route_utils.get_fn(demo, "echo", PredictBody(data=[])).api_name == "echo"
    for api_name, fn_index in (("nosuch\nline", None), (None, 999)):
        with pytest.raises(HTTPException) as e:
            route_utils.get_fn(demo, api_name, PredictBody(data=[], fn_index=fn_index))
        assert e.value.status_code == 404 and "\n" not in e.value.detail and "no function" in e.value.detail


def test_repeated_records_are_bounded_and_counted():
    now = [0.0]
    limit = RepeatLimit(burst=3, period=60, clock=lambda: now[0])
    logger = logging.getLogger("test.repeat-limit")
    logger.propagate = False
    kept: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: kept.append(record.getMessage())  # type: ignore[method-assign]
    logger.addHandler(handler)
    logger.addFilter(limit)
    try:
        for i in range(200):
            logger.error("Exception in ASGI application %d", i)
        logger.warning("another kind")  # a different message is not held back by the first
        assert len(kept) == 4 and kept[-1] == "another kind"
        now[0] = 61.0  # the next period: the first one through says how many were left out
        logger.error("Exception in ASGI application %d", 200)
        assert kept[-1] == "Exception in ASGI application 200 [197 more like this left out of the log]"
    finally:
        logger.removeHandler(handler)
        logger.removeFilter(limit)

"""Model loading on an offline machine and with corrupt weight files (issue 13, items 11 and 12).
No test touches the network: the hub probe is monkeypatched, and any other connection
attempt is refused by a guard and recorded."""

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch
from safetensors.torch import save_file

from fovex_lib.models import zoo as models
from fovex_lib.models.zoo import load_model, load_state_dict_file


@pytest.fixture
def no_network(monkeypatch, tmp_path):
    """Refuse (and record) every name lookup and connection; an empty Hugging Face cache."""
    import huggingface_hub.constants as hf

    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args[:1])
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(hf, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setattr(hf, "HF_HUB_OFFLINE", False)
    return attempts


@pytest.mark.parametrize("name, limit", [("resnet10t", 3.0), pytest.param("vit_b_16", 20.0, marks=pytest.mark.slow)])
def test_offline_hub_fails_fast_with_the_clear_message(no_network, monkeypatch, name, limit):
    """Hub unreachable and nothing cached: the clear error comes at once (it took ~55 s of
    Hugging Face retries before), without a single request. vit_b_16 gets a wider limit only
    because building the 86M-parameter network alone takes seconds on a busy CPU."""
    import huggingface_hub.constants as hf

    probes = []
    monkeypatch.setattr(models, "_hub_reachable", lambda timeout=None: probes.append(timeout) or False)
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=rf"{name}.*did not answer within 3 s.*offline.*weights="):
        load_model(name)
    assert time.monotonic() - start < limit
    assert probes == [None] and no_network == []  # probed once, then no request at all
    assert hf.HF_HUB_OFFLINE is False  # offline mode was switched on only temporarily


def test_hub_probe_is_short_and_configurable(monkeypatch):
    """The probe itself: an answering endpoint is reachable; a silent one is given up on after
    the timeout (a local server that accepts the connection and never answers)."""
    import huggingface_hub.constants as hf

    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)

    class Handler(BaseHTTPRequestHandler):
        def do_HEAD(self):
            self.send_response(404)  # any HTTP answer counts as reachable
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # the kernel accepts the connection; nobody ever answers
    try:
        monkeypatch.setattr(hf, "ENDPOINT", f"http://127.0.0.1:{httpd.server_address[1]}")
        assert models._hub_reachable(timeout=2.0)
        monkeypatch.setattr(hf, "ENDPOINT", f"http://127.0.0.1:{silent.getsockname()[1]}")
        monkeypatch.setattr(models, "HUB_PROBE_TIMEOUT", 0.3)
        start = time.monotonic()
        assert not models._hub_reachable()
        assert time.monotonic() - start < 2
    finally:
        silent.close()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_corrupt_safetensors_file_is_a_clear_error(tmp_path):
    garbage = tmp_path / "weights.safetensors"
    garbage.write_bytes(b"\x93this is not a safetensors file" * 10)
    with pytest.raises(ValueError, match=r"weights\.safetensors.*not a valid \.safetensors file.*download it again"):
        load_state_dict_file(garbage)
    with pytest.raises(ValueError, match="not a valid .safetensors file"):
        load_model("resnet10t", weights=garbage)
    # a truncated (interrupted) download of a real file
    good = tmp_path / "good.safetensors"
    save_file({"w": torch.ones(1000)}, str(good))
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_state_dict_file(cut)
    assert torch.equal(load_state_dict_file(good)["w"], torch.ones(1000))

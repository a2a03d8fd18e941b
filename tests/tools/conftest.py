"""Fixtures of the board tools' tests (tests/tools/)."""

import json
import os

import pytest

from tools import board


@pytest.fixture
def good_config(tmp_path):
    """The example config with its placeholders filled in, as a user would: its path."""
    with open(os.path.join(board.ROOT, "firmware", "config.example.json")) as f:
        config = json.load(f)
    config["wifi"].update(ssid="home", password="hunter22")
    config["mqtt"]["host"] = "a1b2c3-ats.iot.eu-west-1.amazonaws.com"
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return str(path)

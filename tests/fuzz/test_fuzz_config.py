"""Fuzzing the device's config file (firmware/config.py), the file a household edits by hand: any bytes load
to a validated config or raise ConfigError with a one-line reason naming the field, never another exception;
a valid config loads to what it says."""

import json
import os
import tempfile

import config
from hal_sim import HAL
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.mutations import hostile

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "firmware", "config.example.json")
with open(EXAMPLE) as example_file:
    VALID = json.load(example_file)
SECTIONS = st.sampled_from(sorted(key for key in VALID if isinstance(VALID[key], dict)))


@st.composite
def configs(draw):
    """The example with a section's fields mutated (the top level is mutated by `hostile`)."""
    raw = json.loads(json.dumps(VALID))
    section = draw(SECTIONS)
    keys = sorted(raw[section])
    if keys:
        raw[section][draw(st.sampled_from(keys))] = draw(
            st.none()
            | st.integers(-1, 3000)
            | st.integers()
            | st.booleans()
            | st.text(max_size=70)
            | st.just({})
        )
    return raw


def load_bytes(data):
    with tempfile.NamedTemporaryFile(suffix=".json") as file:
        file.write(data)
        file.flush()
        return config.load(file.name, HAL.PINS)


def test_the_example_loads_to_what_it_says():
    loaded = load_bytes(json.dumps(VALID).encode())
    assert loaded["thing"] == VALID["thing"] and loaded["mqtt"]["host"] == VALID["mqtt"]["host"]


@given(hostile(configs()))
def test_any_config_file_loads_or_is_refused_with_one_line(data):
    try:
        loaded = load_bytes(data)
    except config.ConfigError as error:
        reason = str(error)
        assert reason and "\n" not in reason
        return
    # What loaded is what the file says, defaults filled in: loading it again changes nothing.
    assert load_bytes(json.dumps(loaded).encode()) == loaded

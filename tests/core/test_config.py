"""The typed configuration: values read from the environment, clear errors for bad ones."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.config import Config, ConfigError
from core.settings_table import documented_settings, settings_text

ROOT = Path(__file__).resolve().parents[2]


def test_environment_values_are_typed(monkeypatch):
    monkeypatch.setenv("LOOKBOT_DETECTOR", "off")
    monkeypatch.setenv("LOOKBOT_K", "7")
    monkeypatch.setenv("LOOKBOT_DETECTOR_SCORE", "0.4")
    monkeypatch.setenv("LOOKBOT_DATA_DIR", "~/lookbot-data")
    monkeypatch.setenv("LOOKBOT_WORKERS", "")  # empty: the default
    config = Config.from_env(detector_runtime="torch")
    assert (config.use_detector, config.k, config.detector_score) == (False, 7, 0.4)
    assert config.data_dir == Path.home() / "lookbot-data"
    assert config.bot_workers == 0 and config.detector_runtime == "torch"


@pytest.mark.parametrize("env, value, words", [
    ("LOOKBOT_DETECTOR", "maybe", "1/0, true/false, yes/no or on/off"),
    ("LOOKBOT_K", "five", "a whole number"),
    ("LOOKBOT_DETECTOR_RUNTIME", "tensorflow", "'onnx' or 'torch'"),
    ("LOOKBOT_BACKBONE", "vgg", "'efficientnet_lite2' or 'resnet50'"),
    ("LOOKBOT_GATE_VISIBILITY", "1.5", "less than or equal to 1"),
])
def test_a_bad_value_names_the_variable_and_what_it_accepts(monkeypatch, env, value, words):
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError) as caught:
        Config.from_env()
    assert f"{env}={value!r}" in str(caught.value) and words in str(caught.value)


def test_a_bad_override_names_the_variable():
    with pytest.raises(ConfigError, match="LOOKBOT_WEBHOOK_PORT=70000"):
        Config(webhook_port=70000)
    with pytest.raises(ConfigError, match="LOOKBOT_K=0"):
        Config().replace(k=0)


def test_secrets_never_show_in_the_config_text(monkeypatch):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:very-secret")
    monkeypatch.setenv("LOOKBOT_WEBHOOK_SECRET", "hush-hush")
    config = Config.from_env()
    assert config.telegram_bot_token.get_secret_value() == "123:very-secret"
    assert "very-secret" not in repr(config) and "hush-hush" not in str(config)


def test_config_text_shows_the_values_in_effect_and_hides_secrets(monkeypatch):
    monkeypatch.setenv("LOOKBOT_K", "8")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:very-secret")
    monkeypatch.delenv("LOOKBOT_DATA_DIR", raising=False)
    text = settings_text(Config.from_env(), width=60)
    lines = text.splitlines()
    assert "LOOKBOT_K = 8  (default: 5)" in lines
    assert "LOOKBOT_DATA_DIR = data/demo" in lines  # as the default: no default named
    assert "TELEGRAM_BOT_TOKEN = (set, hidden)  (default: (empty))" in lines
    assert "very-secret" not in text
    assert all(len(line) <= 60 for line in lines if line.startswith("    "))  # meanings wrap
    assert sum(not line.startswith(" ") for line in lines) == len(Config.model_fields)


def test_every_setting_is_documented_with_its_variable():
    settings = documented_settings()
    assert len(settings) == len(Config.model_fields)
    names = [env for env, _, _ in settings]
    assert len(set(names)) == len(names) and all(doc for _, _, doc in settings)
    assert ("LOOKBOT_DATA_DIR", "data/demo") in [(env, default) for env, default, _ in settings]
    assert {"TELEGRAM_BOT_TOKEN", "LOOKBOT_WEBHOOK_SECRET", "LOOKBOT_SHARED_DATA"} <= set(names)


def test_the_cli_reports_a_bad_setting_in_one_line():
    env = {**os.environ, "LOOKBOT_K": "lots", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "lookbot.cli", "config"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "LOOKBOT_K='lots' is not valid: use a whole number" in out.stderr
    assert "Traceback" not in out.stderr

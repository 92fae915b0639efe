"""The tracker: an event-sourced case tracker."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import click
from flask import Flask

from tracker.config import (
    ConfigError,
    data_key,
    database_url,
    instance_path,
    instance_secret,
    load_settings,
    new_secret_key,
)
from tracker.resources import TEMPLATES


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """The application: configuration, database, services, API and web UI."""
    try:
        return _create_app(test_config)
    except ConfigError as exc:
        # On a command line (`tracker ...`, and `flask --app tracker ...`, whose errors the tracker's
        # own group never sees) a configuration that cannot be used is one line and a non-zero exit.
        if click.get_current_context(silent=True) is None:
            raise
        raise click.ClickException(str(exc)) from None


def _create_app(test_config: dict[str, Any] | None) -> Flask:
    from tracker.db import Database
    from tracker.deadlines.rules import DEFAULT_RULES_PATH, load_rules
    from tracker.services.runtime import Runtime
    from tracker.stay.rules import DEFAULT_STAY_RULES_PATH, load_stay_rules

    instance = instance_path()
    app = Flask(__name__, instance_path=str(instance), template_folder=str(TEMPLATES))
    settings = load_settings(test_config)
    if not settings["SECRET_KEY"]:
        settings["SECRET_KEY"] = instance_secret(instance, "secret_key", new_secret_key)
    settings["DATABASE_URL"] = database_url(settings, instance)
    key = data_key(settings, instance, settings["DATABASE_URL"])
    app.config.update(settings)
    app.config["DATA_KEY"] = None  # the key lives in the runtime only, never in templates or logs
    app.config["OLD_DATA_KEYS"] = None
    app.config["DATA_KEY_SOURCE"] = key.source
    rule_files = [DEFAULT_RULES_PATH] + ([settings["DEADLINE_RULES"]] if settings["DEADLINE_RULES"] else [])
    stay_files = [DEFAULT_STAY_RULES_PATH] + ([settings["STAY_RULES"]] if settings["STAY_RULES"] else [])
    app.extensions["tracker"] = Runtime(
        db=Database(settings["DATABASE_URL"]),
        kek=key.key,
        rules=replace(load_rules(rule_files), stay=load_stay_rules(stay_files)),
        settings=settings,
    )
    _configure_ops(app)
    _configure_api(app)
    _configure_web(app)
    _configure_cli(app)
    return app


def _configure_cli(app: Flask) -> None:
    # So that `flask --app tracker ...` offers the same commands as `tracker ...`.
    from tracker.cli import cli

    for name, command in cli.commands.items():
        app.cli.add_command(command, name)


def _configure_ops(app: Flask) -> None:
    # First, so that its request hooks run before those of the API and the web UI.
    from tracker import ops

    ops.init_app(app)


def _configure_api(app: Flask) -> None:
    from tracker import api

    api.init_app(app)


def _configure_web(app: Flask) -> None:
    from tracker import web

    web.init_app(app)


__all__ = ["create_app"]

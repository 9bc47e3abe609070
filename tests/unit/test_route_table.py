"""The route table, the access table and the views' declarations describe the same API."""

from chalicelib.api.access import ACCESS
from chalicelib.api.routes import ROUTES, load_all_views
from chalicelib.api.routing import OPERATIONS
from chalicelib.lazy import resolve


def test_every_route_has_a_view_declared_for_that_route_and_an_access_rule() -> None:
    load_all_views()

    declared = {(op.method, op.path): op.operation_id for op in OPERATIONS}

    assert set(ROUTES) == set(declared) == set(ACCESS)
    for route, (module, name) in ROUTES.items():
        assert declared[route] == name, route
        assert resolve(module, name).__name__ == name


def _loaded_after_importing(modules: str, prefixes: tuple[str, ...]) -> str:
    """In a fresh interpreter, import `modules` (comma-separated) and answer which loaded
    modules start with one of `prefixes`, comma-separated ("" when none)."""
    import subprocess
    import sys

    probe = (
        f"import sys, {modules}; "
        f"print(','.join(sorted(m for m in sys.modules if m.startswith({prefixes!r}))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def test_importing_the_app_imports_no_view_and_no_data_access() -> None:
    loaded = _loaded_after_importing(
        "app",
        (
            "chalicelib.api.customers",
            "chalicelib.dal",
            "chalicelib.schemas",
            "pynamodb",
            "pydantic",
        ),
    )

    assert loaded == ""


def test_authenticating_and_the_customer_views_import_only_what_a_profile_read_needs() -> None:
    """GET /v1/customers/{id} is the cold start's first request (docs/benchmarks.md): the
    authentication and the customer views load neither the erasure nor the segment
    machinery, nor the tenant configuration model, nor boto3."""
    # Given a fresh interpreter, when it imports the authentication and the customer views
    loaded = _loaded_after_importing(
        "chalicelib.services.auth, chalicelib.services.audit, chalicelib.api.customers",
        (
            "chalicelib.services.privacy",
            "chalicelib.services.segments",
            "chalicelib.dal.segments",
            "chalicelib.dal.privacy",
            "chalicelib.schemas.segments",
            "chalicelib.domain.tenant_config",
            "pydantic.networks",
            "boto3",
        ),
    )

    # Then none of those modules is loaded
    assert loaded == ""


def test_every_stage_builds_pydantic_models_without_scanning_installed_packages() -> None:
    """Pydantic looks for plugins in every installed distribution's entry points when it
    builds its first model, a cost on each cold start; the service uses no plugin, so every
    stage's environment (.chalice/config.json) turns the lookup off."""
    import json
    import os
    import subprocess
    import sys

    from devtools.dynamodb_local import ROOT
    from devtools.stage import stage_environment

    stages = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]
    probe = (
        "import importlib.metadata as metadata; looked_up = []; "
        "scan = metadata.entry_points; "
        "metadata.entry_points = lambda **group: looked_up.append(group) or scan(**group); "
        "import chalicelib.services.auth, chalicelib.api.customers; "
        "from chalicelib.schemas.customers import CustomerOut; "
        "print(len(looked_up))"
    )
    for stage in stages:
        # Given a fresh interpreter with the stage's environment
        environment = {**os.environ, **stage_environment(stage)}

        # When it imports the authentication and the customer views and their models
        result = subprocess.run(
            [sys.executable, "-c", probe],
            capture_output=True,
            text=True,
            check=True,
            env=environment,
        )

        # Then no model build looked up the installed packages' entry points
        assert result.stdout.strip() == "0", stage


def test_a_profile_read_defines_only_the_item_models_it_uses() -> None:
    """PynamoDB's metaclass does real work for every model class, so chalicelib.dal.models
    imports each feature's models only when first named (issue 14: the first request's cold
    start); a GET of a customer needs the customer, key, audit and segment-state models."""
    # Given a fresh interpreter, when it imports the authentication, auditing and customer views
    loaded = _loaded_after_importing(
        "chalicelib.services.auth, chalicelib.services.audit, chalicelib.api.customers",
        ("chalicelib.dal.models",),
    )

    # Then only those features' model modules are loaded
    assert loaded.split(",") == [
        "chalicelib.dal.models",
        "chalicelib.dal.models.audit",
        "chalicelib.dal.models.base",
        "chalicelib.dal.models.control",
        "chalicelib.dal.models.customers",
        "chalicelib.dal.models.segments",
    ]


def test_every_item_model_is_reachable_from_the_models_package() -> None:
    """Imports like `from chalicelib.dal.models import CustomerItem` keep working for every
    model after the split into one submodule per feature."""
    import importlib

    from pynamodb.models import Model

    from chalicelib.dal import models

    # Given every submodule of the models package, imported
    models.import_all_models()
    defined = {
        name
        for submodule in models.SUBMODULES
        for name, value in vars(importlib.import_module(f"{models.__name__}.{submodule}")).items()
        if isinstance(value, type)
        and issubclass(value, Model)
        and value.__module__.startswith(models.__name__)
        and not name.startswith("_")
    }

    # Then each model class is an attribute of the package itself, the very same class
    assert defined
    for name in defined:
        assert name in models.__all__
        value = getattr(models, name)
        assert value is getattr(importlib.import_module(value.__module__), name)

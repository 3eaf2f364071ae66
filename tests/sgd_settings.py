"""Training settings for the NumPy-level tests: the schema's recipe with the given keys over it."""

from mlpsweep.settings import resolve


def recipe(*, penalty_p=None, penalty_lambda=None, **settings):
    """:func:`mlpsweep.settings.resolve` of ``settings``; ``penalty_p``/``penalty_lambda`` set the config's penalty."""
    if penalty_p is not None or penalty_lambda is not None:
        settings["penalty"] = {"p": 2 if penalty_p is None else penalty_p, "lambda": penalty_lambda or 0}
    return resolve(settings)

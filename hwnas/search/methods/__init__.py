"""The built-in search methods, one module each; importing this package registers them in their documented
order (:mod:`hwnas.search.registry`)."""

from hwnas.search.methods import fbnet, tfnas, spos, hardcore, random  # noqa: F401  (registration order)

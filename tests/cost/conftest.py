from tests.search.conftest import fashion_dir, search_space  # noqa: F401  (the MicroNet budget search test)

from tests.search.conftest import fashion_dir, search_lut, search_space, tiny, tiny_table  # noqa: F401

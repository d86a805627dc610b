from tests.run.test_run_e2e import finished  # noqa: F401  (the finished run, shared with the browser test)
from tests.search.conftest import fashion_dir  # noqa: F401
